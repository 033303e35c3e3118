package kmodpack.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModprobeConfigTest {
    private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    private final Log log = TestTrees.printingLog(new PrintStream(errBytes, true, StandardCharsets.UTF_8));

    private String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void directivesAsLibkmodReadsThem() {
        ModprobeConfig c = ModprobeConfig.parse(String.join("\n",
                "# comment",
                "",
                "alias  my-alias   snd-dummy extra words",
                "options snd-dummy index=-2\tenable=1",
                "options foo",
                "install bar  /bin/true $CMDLINE_OPTS",
                "remove bar /bin/false",
                "softdep a-b pre: x-y z post: w junk",
                "softdep c d e post: f",
                "blacklist pc-spkr",
                "alias x]y z",
                "  # indented comment is a bad line",
                "options baz a=1 \\",
                "  b=2",
                "what is this",
                "include /etc/other"), log);
        assertEquals(List.of(new ModprobeConfig.Alias("my_alias", "snd_dummy")), c.aliases);
        assertEquals(List.of(new ModprobeConfig.Options("snd_dummy", "index=-2 enable=1"),
                new ModprobeConfig.Options("baz", "a=1   b=2")), c.options);
        // The command is the rest of the line after the one separator that ended the name.
        assertEquals(List.of(new ModprobeConfig.Command("bar", " /bin/true $CMDLINE_OPTS")), c.installCommands);
        assertEquals(List.of(new ModprobeConfig.Command("bar", "/bin/false")), c.removeCommands);
        assertEquals(List.of(new ModprobeConfig.Softdep("a_b", List.of("x-y", "z"), List.of("w", "junk")),
                new ModprobeConfig.Softdep("c", List.of(), List.of("f"))), c.softdeps);
        assertEquals(List.of("pc_spkr"), c.blacklist);
        String e = err();
        assertTrue(e.contains("<text> line 5: ignoring bad line starting with 'options'"), e);
        assertTrue(e.contains("line 11: ignoring bad line starting with 'alias'"), e);
        assertTrue(e.contains("line 12: ignoring bad line starting with '#'"), e);
        assertTrue(e.contains("line 15: ignoring bad line starting with 'what'"), e);
        assertTrue(e.contains("command include is deprecated"), e);
    }

    @Test
    void bracketsKeepTheirDashes() {
        assertEquals("snd_[a-z]_x", ModprobeConfig.underscores("snd-[a-z]-x"));
        assertEquals(null, ModprobeConfig.underscores("a[b"));
        assertEquals(null, ModprobeConfig.underscores("a]b"));
    }

    private ModprobeConfig cmdline(String text) {
        ModprobeConfig c = ModprobeConfig.parse("", log);
        c.parseKernelCmdline(text.getBytes(StandardCharsets.ISO_8859_1));
        return c;
    }

    @Test
    void kernelCommandLine() {
        ModprobeConfig c = cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet snd-dummy.index=1 e1000e.IntMode=1,2 "
                + "modprobe.blacklist=floppy,pc-spkr nodot= a.b.c=1 x.y \"parport.dyndbg=file a.c +p\" mod.\"bad\"=1 "
                + "z.q=\"quoted value\"\n");
        assertEquals(List.of(
                new ModprobeConfig.Options("snd_dummy", "index=1"),
                new ModprobeConfig.Options("e1000e", "IntMode=1,2"),
                new ModprobeConfig.Options("x", "y"),
                new ModprobeConfig.Options("parport", "dyndbg=\"file a.c +p\""),
                new ModprobeConfig.Options("z", "q=\"quoted value\"")), c.options);
        // Blacklist entries from the command line are taken as written.
        assertEquals(List.of("floppy", "pc-spkr"), c.blacklist);
    }

    @Test
    void filesAreReadInNameOrderAndEarlierDirectoriesHideLaterOnes(@TempDir Path tmp) throws Exception {
        Path etc = Files.createDirectories(tmp.resolve("etc/modprobe.d"));
        Path lib = Files.createDirectories(tmp.resolve("lib/modprobe.d"));
        Files.writeString(etc.resolve("b.conf"), "options m from=etc-b\n");
        Files.writeString(lib.resolve("b.conf"), "options m from=lib-b\n");
        Files.writeString(lib.resolve("a.conf"), "options m from=lib-a\n");
        Files.writeString(lib.resolve("c.alias"), "options m from=lib-c\n");
        Files.writeString(lib.resolve("d.txt"), "options m from=ignored\n");
        Files.writeString(lib.resolve(".e.conf"), "options m from=hidden\n");
        Files.createDirectories(tmp.resolve("proc"));
        Files.writeString(tmp.resolve("proc/cmdline"), "m.from=cmdline\n");
        Path mods = Files.createDirectories(tmp.resolve("mods"));
        Files.writeString(mods.resolve("modules.softdep"), "options m from=softdep-file\n");
        ModprobeConfig c = ModprobeConfig.load(Host.under(tmp), null, new DirectoryModuleTree(mods), "/lib/modules/x", log);
        assertEquals(List.of("from=lib-a", "from=etc-b", "from=lib-c", "from=softdep-file", "from=cmdline"),
                c.options.stream().map(ModprobeConfig.Options::options).toList());
        // -C replaces the directories (host paths, so under the fake root); a file counts by its own name.
        Files.writeString(tmp.resolve("single.conf"), "options m from=single\n");
        ModprobeConfig c2 = ModprobeConfig.load(Host.under(tmp), List.of("/single.conf", "/lib/modprobe.d"),
                new DirectoryModuleTree(mods), "/lib/modules/x", log);
        assertEquals(List.of("from=lib-a", "from=lib-b", "from=lib-c", "from=softdep-file", "from=single", "from=cmdline"),
                c2.options.stream().map(ModprobeConfig.Options::options).toList());
    }
}

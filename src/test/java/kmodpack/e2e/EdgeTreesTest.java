package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import kmodpack.e2e.ModprobeDependsTest.ModprobeCli;
import kmodpack.e2e.ModprobeDependsTest.Tree;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Small trees at the edges of what kmod's depmod writes, built from real modules of the Debian
 * tree and indexed by the real {@code depmod -b}: no aliases (a 12-byte empty trie), no
 * modules.builtin (a 0-byte modules.builtin.bin), no modules.builtin.modinfo, no modules at all
 * (an empty modules.dep), softdep and install-command loops, dependency files missing from the
 * tree, and modules given by path. Each query runs through kmod's modprobe over the tree and
 * {@code kmodpack modprobe} over the image packed from it, in the {@code -D} and {@code -n -v}
 * forms; exit status, stdout and stderr must agree.
 */
class EdgeTreesTest {
    static Tree debian;

    @TempDir static Path tmp;

    @BeforeAll
    static void setUp() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(ModprobeDependsTest.modprobeBinary())), "kmod's modprobe is the reference");
        debian = ModprobeDependsTest.tree("amd64");
    }

    static String depmodBinary() {
        return Files.isExecutable(Path.of("/sbin/depmod")) ? "/sbin/depmod" : "/usr/sbin/depmod";
    }

    /**
     * A tree holding {@code modules} (paths relative to the Debian module directory) and the
     * Debian tree's {@code extras} (modules.builtin, ...), indexed by depmod, then packed.
     * {@code removeAfterDepmod} are deleted after depmod ran, before packing.
     */
    static Tree build(String name, List<String> modules, List<String> extras, List<String> removeAfterDepmod) throws Exception {
        // depmod wants a version that looks like a kernel's.
        String version = "6.1.0-edge-" + name;
        Path root = tmp.resolve(name);
        Path dir = Files.createDirectories(root.resolve("lib/modules/" + version + "/kernel"));
        for (String m : modules) {
            Path to = dir.getParent().resolve(m);
            Files.createDirectories(to.getParent());
            Files.copy(debian.moduleDir().resolve(m), to);
        }
        for (String e : extras) Files.copy(debian.moduleDir().resolve(e), dir.getParent().resolve(e));
        Process p = new ProcessBuilder(depmodBinary(), "-b", root.toString(), version)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        assertEquals(0, p.waitFor(), "depmod -b " + root);
        for (String r : removeAfterDepmod) Files.delete(dir.getParent().resolve(r));
        ModprobeCli.prepareImage(Kmodpack.jar(), root, version, tmp);
        return new Tree(root, version);
    }

    static Path config(String name, String text) throws IOException {
        Path d = Files.createDirectories(tmp.resolve("conf-" + name));
        if (!text.isEmpty()) Files.writeString(d.resolve("test.conf"), text);
        return d;
    }

    /** Every name through -D and -n -v, one at a time, then all at once with -a. */
    static void compareAll(Tree t, Path conf, List<String> names) throws Exception {
        List<String> c = List.of("-C", conf.toString());
        for (String n : names) {
            ModprobeDependsTest.compare(t, c, List.of("-D", n));
            ModprobeDependsTest.compare(t, c, List.of("-n", "-v", n));
        }
        List<String> all = new ArrayList<>(List.of("-D", "-a"));
        all.addAll(names);
        ModprobeDependsTest.compare(t, c, all);
        all.set(0, "-n");
        all.add(1, "-v");
        ModprobeDependsTest.compare(t, c, all);
    }

    static final String FUSE = "kernel/fs/fuse/fuse.ko", CUSE = "kernel/fs/fuse/cuse.ko", CRC7 = "kernel/lib/crc7.ko",
            CRC_ITU_T = "kernel/lib/crc-itu-t.ko", DUMMY = "kernel/drivers/net/dummy.ko";

    @Test
    void noAliasesAndNoBuiltin() throws Exception {
        Tree t = build("noalias", List.of(CRC7), List.of(), List.of());
        assertEquals(12, Files.size(t.moduleDir().resolve("modules.alias.bin")), "depmod's empty trie");
        assertEquals(0, Files.size(t.moduleDir().resolve("modules.builtin.bin")), "depmod's empty file");
        compareAll(t, config("empty", ""), List.of("crc7", "nosuch", "symbol:crc7_be", "symbol:nosuch", "fs-fuse"));
        compareAll(t, config("softdep-nosuch", "softdep crc7 pre: nosuch post: symbol:nosuch\n"), List.of("crc7"));
    }

    @Test
    void aliasesWithoutBuiltin() throws Exception {
        Tree t = build("nobuiltin", List.of(FUSE, CUSE, CRC7), List.of(), List.of());
        compareAll(t, config("empty", ""), List.of("cuse", "fuse", "fs-fuse", "char-major-10-229", "devname:fuse",
                "nosuch", "symbol:fuse_conn_get", "crc7"));
    }

    @Test
    void builtinWithoutModinfo() throws Exception {
        Tree t = build("nomodinfo", List.of(FUSE, CUSE), List.of("modules.builtin", "modules.order"), List.of());
        assertEquals(0, Files.size(t.moduleDir().resolve("modules.builtin.alias.bin")));
        String builtin = firstBuiltin();
        compareAll(t, config("empty", ""), List.of("cuse", "fs-fuse", builtin, "nosuch", "crypto-aes"));
    }

    @Test
    void noModulesAtAll() throws Exception {
        Tree t = build("nomodules", List.of(), List.of("modules.builtin", "modules.builtin.modinfo"), List.of());
        assertEquals(0, Files.size(t.moduleDir().resolve("modules.dep")), "an empty modules.dep");
        compareAll(t, config("empty", ""), List.of(firstBuiltin(), "crypto-aes", "crc7", "nosuch", "symbol:crc7_be"));
        compareAll(t, config("aliased", "alias myname crc7\nsoftdep crc7 pre: nosuch\n"), List.of("myname"));
    }

    @Test
    void softdepAndInstallCommandLoops() throws Exception {
        Tree t = build("loops", List.of(FUSE, CUSE, CRC7, CRC_ITU_T, DUMMY), List.of(), List.of());
        Path conf = config("loops", String.join("\n",
                "softdep cuse pre: crc7 post: fuse",
                "softdep crc7 pre: cuse",
                "softdep fuse post: fuse crc7 nosuch",
                "softdep crc_itu_t pre: crc-itu-t post: crc_itu_t",
                "install crc7 /sbin/modprobe crc7",
                "install dummy /sbin/modprobe --ignore-install dummy; /sbin/modprobe dummy",
                "install fuse /sbin/modprobe cuse && /sbin/modprobe --ignore-install fuse",
                "alias loop-a loop-b",
                "alias loop-b loop-a",
                "options crc7 a=1",
                ""));
        compareAll(t, conf, List.of("crc7", "cuse", "fuse", "dummy", "crc-itu-t", "loop-a"));
        ModprobeDependsTest.compare(t, List.of("-C", conf.toString()), List.of("-D", "-i", "-a", "dummy", "cuse", "fuse"));
        ModprobeDependsTest.compare(t, List.of("-C", conf.toString()), List.of("-n", "-v", "-i", "dummy", "p=1"));
    }

    @Test
    void dependencyFilesMissingFromTheTree() throws Exception {
        Tree t = build("missing", List.of(FUSE, CUSE, CRC7), List.of(), List.of(FUSE, CRC7));
        compareAll(t, config("empty", ""), List.of("cuse", "fuse", "crc7", "char-major-10-203"));
    }

    @Test
    void modulesGivenByPath() throws Exception {
        Tree t = build("paths", List.of(FUSE, CUSE), List.of(), List.of());
        compareAll(t, config("empty", ""), List.of(t.moduleDir().resolve(CUSE).toString(), CUSE, "cuse.ko", "./cuse.ko",
                "fuse/cuse", "/cuse", "cuse.ko.xz"));
    }

    static String firstBuiltin() throws IOException {
        String line = Files.readAllLines(debian.moduleDir().resolve("modules.builtin")).get(0);
        String base = line.substring(line.lastIndexOf('/') + 1);
        return base.substring(0, base.indexOf('.'));
    }
}

package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading for real, and bad input. */
class ModprobeLoadTest {
    static Path jar;
    static Path home;
    @TempDir static Path tmp;

    @BeforeAll
    static void setUp() {
        jar = Path.of(System.getProperty("kmodpack.jar"));
        home = Path.of(System.getProperty("kmodpack.home"));
        ModprobeDependsTest.jar = jar;
        ModprobeDependsTest.home = home;
    }

    static ModprobeDependsTest.Result ours(ModprobeDependsTest.Tree t, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(ModprobeDependsTest.ModprobeCli.command(jar));
        cmd.addAll(List.of("-d", t.root().toString(), "-S", t.version(), "--image",
                ModprobeDependsTest.ModprobeCli.image(t.root(), t.version()).toString()));
        cmd.addAll(List.of(args));
        ModprobeDependsTest.tmp = tmp;
        return ModprobeDependsTest.run(cmd);
    }

    @Test
    void aKernelWithoutModuleSupportIsSaidClearly() throws Exception {
        // Only where the running kernel cannot load modules: elsewhere this would load ext4 for real.
        Assumptions.assumeFalse(Files.exists(Path.of("/proc/modules")), "the running kernel has module support");
        ModprobeDependsTest.Tree t = ModprobeDependsTest.tree("amd64");
        ModprobeDependsTest.ModprobeCli.prepareImage(jar, t.root(), t.version(), tmp);
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        ModprobeDependsTest.Result r = ours(t, "-C", empty.toString(), "ext4");
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("could not insert 'ext4': the running kernel has no module support"), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void badInputIsOneLineAndNonZero() throws Exception {
        ModprobeDependsTest.Tree t = ModprobeDependsTest.tree("amd64");
        Path garbage = Files.write(tmp.resolve("garbage.img"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        for (List<String> args : List.of(
                List.of("--image", tmp.resolve("missing.img").toString(), "-D", "ext4"),
                List.of("--image", garbage.toString(), "-D", "ext4"),
                List.of("-d", tmp.toString(), "-S", "0.0-none", "-D", "ext4"),
                List.of("--no-such-option"))) {
            List<String> cmd = new ArrayList<>(ModprobeDependsTest.ModprobeCli.command(jar));
            cmd.addAll(args);
            ModprobeDependsTest.tmp = tmp;
            ModprobeDependsTest.Result r = ModprobeDependsTest.run(cmd);
            assertTrue(r.exit() != 0, args + ": exit " + r.exit());
            assertFalse(r.err().contains("\tat "), args + ": " + r.err());
            assertTrue(r.err().strip().lines().count() <= 3, args + ": " + r.err());
        }
        assertTrue(t.moduleDir().toFile().isDirectory());
    }
}

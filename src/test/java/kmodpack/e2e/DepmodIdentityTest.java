package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import kmodpack.depmod.Depmod;
import kmodpack.testkit.KernelTrees;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kmodpack depmod} against kmod's {@code depmod} (the reference: Debian 12's kmod 30) on
 * the same trees: every file it writes must be identical byte for byte, and {@code -n} must print
 * the same text. Trees: Debian's amd64 tree; the arm64 tree with some modules missing from
 * modules.order and no modules.builtin.modinfo; a third of the amd64 tree with its modules
 * compressed, most to .ko.xz and the network drivers to .ko.zst.
 */
class DepmodIdentityTest {
    @TempDir
    static Path tmp;

    @BeforeAll
    static void reference() {
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/sbin/depmod")) || Files.isExecutable(Path.of("/usr/sbin/depmod")),
                "kmod's depmod is the reference");
    }

    @Test
    void amd64Tree() throws Exception {
        KernelTrees.Tree t = KernelTrees.get("amd64");
        Path a = shadow(t, "amd64-kmod", false, false);
        Path b = shadow(t, "amd64-kmodpack", false, false);
        assertSameOutput(a, b, t.version());
    }

    @Test
    void arm64TreeWithPartialOrderAndNoBuiltinModinfo() throws Exception {
        KernelTrees.Tree t = KernelTrees.get("arm64");
        Path a = shadow(t, "arm64-kmod", true, true);
        Path b = shadow(t, "arm64-kmodpack", true, true);
        assertSameOutput(a, b, t.version());
    }

    @Test
    void compressedModules() throws Exception {
        KernelTrees.Tree t = KernelTrees.get("amd64");
        Path a = tmp.resolve("xz-kmod");
        Path dir = a.resolve("lib/modules").resolve(t.version());
        Files.createDirectories(dir);
        for (String f : Depmod.INPUT_FILES) {
            Files.copy(t.modulesDir().resolve(f), dir.resolve(f));
        }
        // xz -0 and zstd -1: the codec's format is what matters here, not its ratio.
        // A third of the tree, to keep the test short: file systems, networking and what they use.
        String parts = "kernel/fs kernel/net kernel/crypto kernel/lib kernel/drivers/net kernel/drivers/block kernel/drivers/md";
        sh("cd '" + t.modulesDir() + "' && find " + parts + " -type d -exec mkdir -p '" + dir + "/{}' ';'"
                + " && find " + parts + " -name '*.ko' -print0 | xargs -0 -n 64 -P 2 sh -c '"
                + "for f; do case $f in kernel/drivers/net/*) zstd -q -1 -c \"$f\" > \"$0/$f.zst\";;"
                + " *) xz -0 -T1 --check=crc32 -c \"$f\" > \"$0/$f.xz\";; esac; done' '" + dir + "'");
        try (Stream<Path> s = Files.walk(dir)) {
            List<String> names = s.map(p -> p.getFileName().toString()).collect(Collectors.toList());
            assertTrue(names.stream().anyMatch(n -> n.endsWith(".ko.zst")) && names.stream().anyMatch(n -> n.endsWith(".ko.xz"))
                    && names.stream().noneMatch(n -> n.endsWith(".ko")), "the tree holds only compressed modules");
        }
        Path b = tmp.resolve("xz-kmodpack");
        Files.createDirectories(b.resolve("lib/modules"));
        Files.createSymbolicLink(b.resolve("lib/modules").resolve(t.version()), dir);
        // kmod runs first and writes its files into the tree: copy them away before ours overwrite them.
        depmodKmod(a, t.version());
        Path kmodOut = tmp.resolve("xz-kmod-out");
        Files.createDirectories(kmodOut);
        for (String f : Depmod.OUTPUT_FILES) {
            Files.copy(dir.resolve(f), kmodOut.resolve(f));
        }
        Kmodpack.Result r = Kmodpack.run("depmod", "-b", b.toString(), t.version());
        assertEquals(0, r.exit(), r.toString());
        for (String f : Depmod.OUTPUT_FILES) {
            assertArrayEquals(Files.readAllBytes(kmodOut.resolve(f)), Files.readAllBytes(dir.resolve(f)), f + " differs");
        }
    }

    @Test
    void badVersionAndMissingTree() throws Exception {
        Kmodpack.Result r = Kmodpack.run("depmod", "-b", tmp.toString(), "not-a-version");
        assertTrue(r.exit() != 0 && r.err().lines().count() == 1, r.toString());
        r = Kmodpack.run("depmod", "-b", tmp.toString(), "9.9.9-none");
        assertTrue(r.exit() != 0 && r.err().lines().count() == 1 && r.err().contains("9.9.9-none"), r.toString());
    }

    /**
     * A tree beside the cached one that depmod can write into: its own lib/modules/VERSION holding
     * a link to the real kernel/ directory (both depmods follow it) and copies of the input files.
     */
    private static Path shadow(KernelTrees.Tree t, String name, boolean thinOrder, boolean noBuiltinModinfo) throws IOException {
        Path root = tmp.resolve(name);
        Path dir = root.resolve("lib/modules").resolve(t.version());
        Files.createDirectories(dir);
        Files.createSymbolicLink(dir.resolve("kernel"), t.modulesDir().resolve("kernel"));
        for (String f : Depmod.INPUT_FILES) {
            if (noBuiltinModinfo && f.equals("modules.builtin.modinfo")) {
                continue;
            }
            Files.copy(t.modulesDir().resolve(f), dir.resolve(f));
        }
        if (thinOrder) {
            List<String> lines = Files.readAllLines(dir.resolve("modules.order"));
            List<String> kept = new ArrayList<>();
            for (int i = 0; i < lines.size(); i++) {
                if (i % 5 != 2) {
                    kept.add(lines.get(i));
                }
            }
            Files.write(dir.resolve("modules.order"), kept);
        }
        return root;
    }

    private static void assertSameOutput(Path kmodRoot, Path ourRoot, String version) throws Exception {
        depmodKmod(kmodRoot, version);
        Kmodpack.Result r = Kmodpack.run("depmod", "-b", ourRoot.toString(), version);
        assertEquals(0, r.exit(), r.toString());
        for (String f : Depmod.OUTPUT_FILES) {
            Path k = kmodRoot.resolve("lib/modules").resolve(version).resolve(f);
            Path o = ourRoot.resolve("lib/modules").resolve(version).resolve(f);
            assertTrue(Files.exists(k), "kmod wrote " + f);
            assertArrayEquals(Files.readAllBytes(k), Files.readAllBytes(o), f + " differs");
        }
        // Nothing else was written.
        try (Stream<Path> s = Files.list(ourRoot.resolve("lib/modules").resolve(version))) {
            assertEquals(Depmod.OUTPUT_FILES.size() + 4 - (Files.exists(kmodRoot.resolve("lib/modules").resolve(version)
                    .resolve("modules.builtin.modinfo")) ? 0 : 1), s.count());
        }
        byte[] kmodShow = sh(depmodPath() + " -n -b '" + kmodRoot + "' " + version);
        byte[] ourShow = Kmodpack.runBytes("depmod", "-n", "-b", ourRoot.toString(), version);
        assertArrayEquals(kmodShow, ourShow, "depmod -n output differs");
    }

    private static String depmodPath() {
        return Files.isExecutable(Path.of("/sbin/depmod")) ? "/sbin/depmod" : "/usr/sbin/depmod";
    }

    private static void depmodKmod(Path root, String version) throws Exception {
        sh(depmodPath() + " -b '" + root + "' " + version);
    }

    private static byte[] sh(String command) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException("failed: " + command);
        }
        return out;
    }
}

package kmodpack.loader;

import kmodpack.depmod.ModuleFiles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.airlift.compress.zstd.ZstdCompressor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZ;
import org.tukaani.xz.XZOutputStream;

/**
 * The loading path against a fake kernel: a fake root with /sys/module and /proc/cmdline, and
 * system calls that record what they were given. Modules come from the real amd64 tree.
 */
class LoadingTest {
    static TestTrees.Tree tree;
    static final Map<Integer, String> NAMES = new HashMap<>();

    @TempDir Path root;
    Path conf;
    FakeSyscalls sys;
    final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
    final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    UnaryOperator<byte[]> transform = b -> b;
    /** Module files whose read fails as a damaged image's would. */
    final java.util.Set<String> damaged = new java.util.HashSet<>();

    @BeforeAll
    static void locate() throws Exception {
        tree = TestTrees.tree("amd64");
        for (String line : Files.readAllLines(tree.moduleDir().resolve("modules.dep"))) {
            String rel = line.substring(0, line.indexOf(':'));
            if (!rel.matches(".*/(ext4|jbd2|mbcache|crc16|crc32c-intel|crc32c_generic|loop|dummy)\\.ko")) continue;
            byte[] b = Files.readAllBytes(tree.moduleDir().resolve(rel));
            NAMES.put(Arrays.hashCode(b), Kmod.modnameNormalize(rel.substring(rel.lastIndexOf('/') + 1)));
        }
    }

    /** What a load or remove call was given. */
    record Call(String op, String module, String params, int flags, byte[] image) {}

    /** Records calls, answers with scripted errnos, marks loaded modules live in the fake sysfs. */
    final class FakeSyscalls implements ModuleSyscalls {
        final List<Call> calls = new ArrayList<>();
        final Map<String, Integer> errnos = new HashMap<>();
        int everything = 0;

        @Override
        public int loadModule(byte[] image, String params, int flags) {
            byte[] raw = image;
            try {
                raw = ModuleFiles.elf(image);
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            String name = NAMES.getOrDefault(Arrays.hashCode(raw), "?");
            calls.add(new Call("load", name, params, flags, image));
            int e = everything != 0 ? everything : errnos.getOrDefault(name, 0);
            if (e == 0) setState(name, "live");
            return e;
        }

        @Override
        public int deleteModule(String name, int flags) {
            calls.add(new Call("delete", name, null, flags, null));
            int e = errnos.getOrDefault(name, 0);
            if (e != 0) return e;
            Path d = root.resolve("sys/module/" + name);
            if (!Files.isDirectory(d)) return Errno.ENOENT;
            try (var files = Files.walk(d)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException x) {
                throw new AssertionError(x);
            }
            return 0;
        }

        List<String> loaded() {
            return calls.stream().filter(c -> c.op().equals("load")).map(Call::module).toList();
        }

        List<String> deleted() {
            return calls.stream().filter(c -> c.op().equals("delete")).map(Call::module).toList();
        }
    }

    void setState(String name, String state) {
        try {
            Path d = Files.createDirectories(root.resolve("sys/module/" + name));
            if (state != null) Files.writeString(d.resolve("initstate"), state + "\n");
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    void setRefcnt(String name, int n) throws IOException {
        setState(name, "live");
        Files.writeString(root.resolve("sys/module/" + name + "/refcnt"), n + "\n");
    }

    @BeforeEach
    void fakeRoot() throws IOException {
        conf = Files.createDirectories(root.resolve("etc/modprobe.d"));
        Files.createDirectories(root.resolve("proc"));
        Files.writeString(root.resolve("proc/cmdline"), "BOOT_IMAGE=/vmlinuz ro quiet jbd2.from_cmdline=1\n");
        Files.createDirectories(root.resolve("sys/module"));
        sys = new FakeSyscalls();
    }

    int modprobe(Modprobe.Options o, String... args) throws IOException {
        Host host = Host.under(root);
        Log log = TestTrees.printingLog(new PrintStream(errBytes, true, StandardCharsets.UTF_8));
        ModuleTree base = new DirectoryModuleTree(tree.moduleDir());
        ModuleTree t = new ModuleTree() {
            @Override
            public byte[] read(String relPath) throws IOException {
                if (damaged.contains(relPath.substring(relPath.lastIndexOf('/') + 1))) {
                    throw new IOException(relPath + ": damaged block 7 (checksum mismatch)");
                }
                byte[] b = base.read(relPath);
                return b == null || !relPath.endsWith(".ko") ? b : transform.apply(b);
            }

            @Override
            public boolean isFile(String relPath) throws IOException {
                return base.isFile(relPath);
            }

            @Override
            public String describe() {
                return base.describe();
            }
        };
        String dirname = "/lib/modules/" + tree.version();
        ModprobeConfig config = ModprobeConfig.load(host, null, t, dirname, log);
        Kmod kmod = new Kmod(t, dirname, config, log);
        PrintStream out = new PrintStream(outBytes, true, StandardCharsets.ISO_8859_1);
        return new Modprobe(kmod, new Kernel(host, sys), log, out, o, "image test").run(List.of(args));
    }

    int modprobe(String... args) throws IOException {
        return modprobe(new Modprobe.Options(), args);
    }

    String err() {
        return errBytes.toString(StandardCharsets.UTF_8);
    }

    @Test
    void loadsDependenciesFirstWithTheirOptionsAndTheExactFileBytes() throws IOException {
        Files.writeString(conf.resolve("t.conf"), "options ext4 a=1\n");
        assertEquals(0, modprobe("ext4", "b=x y"));
        assertEquals(List.of("crc32c_intel", "crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"), sys.loaded());
        Call ext4 = sys.calls.get(5);
        assertEquals("a=1 b=\"x y\"", ext4.params());
        // libkmod joins configured and command-line options with a space even when there are none.
        assertEquals("from_cmdline=1 ", sys.calls.get(2).params());
        assertArrayEquals(Files.readAllBytes(tree.moduleDir().resolve("kernel/fs/ext4/ext4.ko")), ext4.image());
        assertEquals(0, ext4.flags());
        assertEquals("", err());
    }

    @Test
    void modulesAlreadyLiveAreSkipped() throws IOException {
        setState("jbd2", "live");
        setState("mbcache", null); // a directory without initstate: tried, as modprobe does
        setState("crc16", "coming");
        sys.errnos.put("crc16", Errno.EEXIST); // the kernel waits for it, then says it exists
        assertEquals(0, modprobe("ext4"));
        assertEquals(List.of("crc32c_intel", "crc32c_generic", "mbcache", "crc16", "ext4"), sys.loaded());
    }

    @Test
    void aLoadedModuleIsSuccessUnlessFirstTime() throws IOException {
        setState("ext4", "live");
        assertEquals(0, modprobe("ext4"));
        assertEquals(List.of(), sys.loaded());
        Modprobe.Options o = new Modprobe.Options();
        o.firstTime = true;
        assertEquals(1, modprobe(o, "ext4"));
        assertTrue(err().contains("could not insert 'ext4': Module already in kernel"), err());
    }

    @Test
    void eexistFromTheKernelIsSuccess() throws IOException {
        sys.errnos.put("ext4", Errno.EEXIST);
        assertEquals(0, modprobe("ext4"));
        Modprobe.Options o = new Modprobe.Options();
        o.firstTime = true;
        assertEquals(1, modprobe(o, "ext4"));
    }

    @Test
    void aFailingAliasCandidateDoesNotStopTheNext() throws IOException {
        sys.errnos.put("crc32c_intel", Errno.ENODEV);
        assertEquals(0, modprobe("crypto-crc32c"));
        assertEquals(List.of("crc32c_intel", "crc32c_generic"), sys.loaded());
        assertTrue(err().contains("modprobe: ERROR: could not insert 'crc32c_intel': No such device"), err());
    }

    @Test
    void softDependencyFailuresAreIgnoredButDependencyFailuresAreNot() throws IOException {
        sys.errnos.put("crc32c_intel", Errno.ENODEV);
        sys.errnos.put("crc32c_generic", Errno.ENOENT);
        assertEquals(0, modprobe("ext4"));
        assertEquals(List.of("crc32c_intel", "crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"), sys.loaded());
    }

    @Test
    void aFailingDependencyStopsTheLoad() throws IOException {
        sys.errnos.put("crc32c_intel", Errno.ENODEV);
        sys.errnos.put("mbcache", Errno.ENOEXEC);
        assertEquals(1, modprobe("ext4"));
        assertEquals(List.of("crc32c_intel", "crc32c_generic", "jbd2", "mbcache"), sys.loaded());
        assertTrue(err().contains("could not insert 'ext4': Invalid module format"), err());
    }

    @Test
    void aKernelWithoutModuleSupportIsNamedClearly() throws IOException {
        sys.everything = Errno.ENOSYS;
        assertEquals(1, modprobe("ext4"));
        assertTrue(err().contains("could not insert 'ext4': the running kernel has no module support"), err());
    }

    @Test
    void unknownSymbolWording() throws IOException {
        sys.errnos.put("loop", Errno.ENOENT);
        assertEquals(1, modprobe("loop"));
        assertTrue(err().contains("could not insert 'loop': Unknown symbol in module, or unknown parameter (see dmesg)"), err());
    }

    @Test
    void builtinModulesNeedNothing() throws IOException {
        String builtin = Files.readAllLines(tree.moduleDir().resolve("modules.builtin")).get(0);
        String name = Kmod.modnameNormalize(builtin.substring(builtin.lastIndexOf('/') + 1));
        assertEquals(0, modprobe(name));
        assertEquals(List.of(), sys.calls);
    }

    @Test
    void notFoundIsFatal() throws IOException {
        assertEquals(1, modprobe("no-such-module"));
        assertEquals("modprobe: FATAL: Module no-such-module not found in image test\n", err());
    }

    private static byte[] xz(byte[] b) {
        try {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            // As Kbuild compresses modules: CRC32 check, 1 MiB dictionary.
            LZMA2Options opt = new LZMA2Options();
            opt.setDictSize(1 << 20);
            try (XZOutputStream x = new XZOutputStream(o, opt, XZ.CHECK_CRC32)) {
                x.write(b);
            }
            return o.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] gzip(byte[] b) {
        try {
            ByteArrayOutputStream o = new ByteArrayOutputStream();
            try (GZIPOutputStream g = new GZIPOutputStream(o)) {
                g.write(b);
            }
            return o.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static byte[] zstd(byte[] b) {
        ZstdCompressor c = new ZstdCompressor();
        byte[] out = new byte[c.maxCompressedLength(b.length)];
        int n = c.compress(b, 0, b.length, out, 0, out.length);
        return Arrays.copyOf(out, n);
    }

    private void compressedModulesAreDecompressedUnlessTheKernelCan(String kind, UnaryOperator<byte[]> compress)
            throws IOException {
        transform = compress;
        byte[] raw = Files.readAllBytes(tree.moduleDir().resolve("kernel/lib/crc16.ko"));
        assertEquals(0, modprobe("crc16"));
        Call c = sys.calls.get(0);
        assertEquals("crc16", c.module());
        assertArrayEquals(raw, c.image(), "the raw ELF reaches a kernel that cannot decompress");
        assertEquals(0, c.flags());

        sys.calls.clear();
        Files.writeString(root.resolve("sys/module/compression"), kind + "\n");
        Files.delete(root.resolve("sys/module/crc16/initstate"));
        Files.delete(root.resolve("sys/module/crc16"));
        assertEquals(0, modprobe("crc16"));
        c = sys.calls.get(0);
        assertArrayEquals(compress.apply(raw), c.image(), "the compressed file reaches a kernel that can");
        assertEquals(ModuleSyscalls.COMPRESSED_FILE, c.flags());
    }

    @Test
    void xzModules() throws IOException {
        compressedModulesAreDecompressedUnlessTheKernelCan("xz", LoadingTest::xz);
    }

    @Test
    void zstdModules() throws IOException {
        compressedModulesAreDecompressedUnlessTheKernelCan("zstd", LoadingTest::zstd);
    }

    @Test
    void gzipModules() throws IOException {
        compressedModulesAreDecompressedUnlessTheKernelCan("gzip", LoadingTest::gzip);
    }

    @Test
    void aDamagedModuleStopsTheClosureBeforeAnythingIsLoaded() throws IOException {
        damaged.add("ext4.ko");
        assertEquals(1, modprobe("ext4"));
        assertEquals(List.of(), sys.calls, "its dependencies must not be loaded either");
        assertTrue(err().contains("damaged block 7") && err().contains("nothing was loaded"), err());
    }

    @Test
    void aDamagedSoftDependencyIsSkippedLikeAFailingOne() throws IOException {
        damaged.add("crc32c-intel.ko");
        assertEquals(0, modprobe("ext4"));
        assertEquals(List.of("crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"), sys.loaded());
    }

    @Test
    void damagedCompressedModuleNeverReachesTheKernel() throws IOException {
        transform = b -> {
            byte[] x = xz(b);
            x[x.length / 2] ^= 0x55;
            return x;
        };
        assertEquals(1, modprobe("crc16"));
        assertEquals(List.of(), sys.calls);
        assertTrue(err().contains("could not decompress"), err());
    }

    @Test
    void forceFlags() throws IOException {
        Modprobe.Options o = new Modprobe.Options();
        o.force = true;
        assertEquals(0, modprobe(o, "crc16"));
        assertEquals(ModuleSyscalls.IGNORE_MODVERSIONS | ModuleSyscalls.IGNORE_VERMAGIC, sys.calls.get(0).flags());
    }

    @Test
    void installCommandsRunThroughTheShell() throws IOException {
        Path marker = root.resolve("ran");
        Files.writeString(conf.resolve("i.conf"), "options crc16 o=1\n"
                + "install crc16 echo \"$MODPROBE_MODULE $CMDLINE_OPTS\" > " + marker + "\n"
                + "install loop /bin/false\n");
        assertEquals(0, modprobe("crc16", "p=2"));
        assertEquals("crc16 o=1 p=2\n", Files.readString(marker));
        assertEquals(List.of(), sys.calls);
        assertEquals(1, modprobe("loop"));
        assertTrue(err().contains("Error running install command '/bin/false' for module loop: retcode 1"), err());
        Modprobe.Options o = new Modprobe.Options();
        o.ignoreCommands = true;
        assertEquals(0, modprobe(o, "loop"));
        assertEquals(List.of("loop"), sys.loaded());
    }

    @Test
    void blacklistAppliesToAliasesAndWithUseBlacklistToNames() throws IOException {
        Files.writeString(conf.resolve("b.conf"), "blacklist crc32c_intel\nblacklist loop\n");
        assertEquals(0, modprobe("crypto-crc32c"));
        assertEquals(List.of("crc32c_generic"), sys.loaded());
        sys.calls.clear();
        assertEquals(0, modprobe("loop"));
        assertEquals(List.of("loop"), sys.loaded());
        sys.calls.clear();
        Files.delete(root.resolve("sys/module/loop/initstate"));
        Modprobe.Options o = new Modprobe.Options();
        o.useBlacklist = true;
        assertEquals(0, modprobe(o, "loop"));
        assertEquals(List.of(), sys.loaded());
    }

    @Test
    void kernelCommandLineBlacklist() throws IOException {
        Files.writeString(root.resolve("proc/cmdline"), "quiet modprobe.blacklist=crc32c_intel,other\n");
        assertEquals(0, modprobe("crypto-crc32c"));
        assertEquals(List.of("crc32c_generic"), sys.loaded());
    }

    @Test
    void removeTakesUnusedDependenciesAlong() throws IOException {
        setRefcnt("ext4", 0);
        setRefcnt("jbd2", 0);
        setRefcnt("mbcache", 0);
        setRefcnt("crc16", 1);
        Modprobe.Options o = new Modprobe.Options();
        o.remove = true;
        assertEquals(0, modprobe(o, "ext4"));
        // Dependencies in libkmod's list order: the modules.dep line reversed.
        assertEquals(List.of("ext4", "jbd2", "mbcache"), sys.deleted());
        assertEquals(ModuleSyscalls.O_NONBLOCK, sys.calls.get(0).flags());
    }

    @Test
    void removeRefusesAModuleInUse() throws IOException {
        setRefcnt("ext4", 2);
        Modprobe.Options o = new Modprobe.Options();
        o.remove = true;
        assertEquals(1, modprobe(o, "ext4"));
        assertEquals(List.of(), sys.deleted());
        assertTrue(err().contains("Module ext4 is in use."), err());
    }

    @Test
    void removeHoldersFirstWhenAsked() throws IOException {
        setRefcnt("loop", 0);
        Files.createDirectories(root.resolve("sys/module/loop/holders/dummy"));
        setRefcnt("dummy", 0);
        Modprobe.Options o = new Modprobe.Options();
        o.remove = true;
        o.removeHolders = true;
        assertEquals(0, modprobe(o, "loop"));
        assertEquals(List.of("dummy", "loop"), sys.deleted());
    }

    @Test
    void removingAModuleThatIsNotLoadedIsQuietSuccess() throws IOException {
        Modprobe.Options o = new Modprobe.Options();
        o.remove = true;
        assertEquals(0, modprobe(o, "ext4"));
        assertEquals(List.of(), sys.calls);
        o.firstTime = true;
        assertEquals(1, modprobe(o, "ext4"));
        assertTrue(err().contains("Module ext4 is not in kernel."), err());
    }

    @Test
    void removeOnAKernelWithoutModuleSupport() throws IOException {
        setRefcnt("loop", 0);
        sys.errnos.put("loop", Errno.ENOSYS);
        Modprobe.Options o = new Modprobe.Options();
        o.remove = true;
        assertEquals(1, modprobe(o, "loop"));
        assertTrue(err().contains("could not remove 'loop': the running kernel has no module support"), err());
    }
}

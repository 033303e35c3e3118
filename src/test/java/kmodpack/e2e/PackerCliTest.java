package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import kmodpack.image.Codec;
import kmodpack.image.ImageLayout;
import kmodpack.image.ImageLayout.Header;
import kmodpack.testkit.KernelTrees;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** build, ls, cat, extract, verify and info through the packaged command line, on a slice of a real tree. */
class PackerCliTest {
    @TempDir
    static Path tmp;
    static Path base;
    static Path image;
    static final String VER = "6.1.0-test";

    @BeforeAll
    static void buildOnce() throws Exception {
        // BASEDIR/lib/modules/VER holding the real ext4, jbd2 and the index files, with mtimes kept.
        KernelTrees.Tree tree = KernelTrees.get("amd64");
        base = tmp.resolve("base");
        Path mods = base.resolve("lib/modules/" + VER);
        Files.createDirectories(mods.resolve("kernel/fs"));
        Files.createDirectories(base.resolve("boot"));
        for (String p : List.of("kernel/fs/ext4", "kernel/fs/jbd2", "modules.dep", "modules.dep.bin", "modules.order")) {
            Process cp = new ProcessBuilder("cp", "-a", tree.modulesDir().resolve(p).toString(), mods.resolve(p).toString()).inheritIO().start();
            assertEquals(0, cp.waitFor());
        }
        Files.createSymbolicLink(mods.resolve("build"), Path.of("/usr/src/linux-headers-" + VER));
        Kmodpack.Result r = Kmodpack.run("build", "-b", base.toString(), VER);
        assertEquals(0, r.exit(), r.toString());
        image = base.resolve("boot/modules-" + VER);
        assertTrue(r.out().startsWith(image + ": "), r.out());
        assertEquals("", r.err(), "silent when not on a terminal");
    }

    @Test
    void lsCatInfoVerify() throws Exception {
        Kmodpack.Result ls = Kmodpack.run("ls", image.toString());
        assertEquals(List.of("build", "kernel", "modules.dep", "modules.dep.bin", "modules.order"), ls.out().lines().toList());
        Kmodpack.Result lsl = Kmodpack.run("ls", "-l", image.toString(), "build");
        assertTrue(lsl.out().startsWith("lrwxrwxrwx"), lsl.out());
        assertTrue(lsl.out().trim().endsWith("build -> /usr/src/linux-headers-" + VER), lsl.out());
        Kmodpack.Result lsr = Kmodpack.run("ls", "-R", image.toString(), "kernel");
        assertTrue(lsr.out().lines().anyMatch("kernel/fs/ext4/ext4.ko"::equals), lsr.out());

        Path ext4 = base.resolve("lib/modules/" + VER + "/kernel/fs/ext4/ext4.ko");
        assertArrayEquals(Files.readAllBytes(ext4), Kmodpack.runBytes("cat", image.toString(), "kernel/fs/ext4/ext4.ko"));

        Kmodpack.Result info = Kmodpack.run("info", image.toString());
        assertEquals(0, info.exit(), info.toString());
        assertTrue(info.out().contains("kernel version: " + VER), info.out());
        assertTrue(info.out().contains("modules:        2"), info.out());

        Kmodpack.Result verify = Kmodpack.run("verify", image.toString());
        assertEquals(0, verify.exit(), verify.toString());
        assertTrue(verify.out().contains(": ok"), verify.out());
    }

    @Test
    void extractGivesBackTheTree() throws Exception {
        Path out = tmp.resolve("extracted");
        Kmodpack.Result r = Kmodpack.run("extract", image.toString(), out.toString());
        assertEquals(0, r.exit(), r.toString());
        TreeAssert.assertSameTree(base.resolve("lib/modules/" + VER), out);

        Kmodpack.Result again = Kmodpack.run("extract", image.toString(), out.toString());
        assertOneLineError(again, "already exists");
    }

    @Test
    void damagedImageIsNamedByVerifyAndReadsFail() throws Exception {
        byte[] b = Files.readAllBytes(image);
        // The first block holds the start of kernel/fs/ext4's files, in data order.
        b[200] ^= 0x40;
        Path damaged = tmp.resolve("damaged");
        Files.write(damaged, b);
        Kmodpack.Result v = Kmodpack.run("verify", damaged.toString());
        assertEquals(1, v.exit(), v.toString());
        assertTrue(v.err().contains("damaged file: kernel/fs/ext4/"), v.err());
        assertFalse(v.err().contains("\tat "), v.err());
        Kmodpack.Result cat = Kmodpack.run("cat", damaged.toString(), "kernel/fs/ext4/ext4.ko");
        assertOneLineError(cat, "damaged block");
    }

    @Test
    void badInputGetsOneLineErrors() throws Exception {
        assertOneLineError(Kmodpack.run("build", "-b", base.toString(), "9.9.9-missing"), "no module tree at");
        assertFalse(Files.exists(base.resolve("boot/modules-9.9.9-missing")));

        Path notImage = base.resolve("lib/modules/" + VER + "/modules.order");
        assertOneLineError(Kmodpack.run("ls", notImage.toString()), "not a kmodpack image");
        assertOneLineError(Kmodpack.run("info", tmp.resolve("absent").toString()), "no such file");

        byte[] b = Files.readAllBytes(image);
        Path truncated = tmp.resolve("truncated");
        Files.write(truncated, java.util.Arrays.copyOf(b, b.length - 10));
        assertOneLineError(Kmodpack.run("verify", truncated.toString()), "truncated");

        byte[] idx = b.clone();
        idx[idx.length - 5] ^= 1;
        Path badIndex = tmp.resolve("bad-index");
        Files.write(badIndex, idx);
        assertOneLineError(Kmodpack.run("ls", badIndex.toString()), "damaged image index");

        assertOneLineError(Kmodpack.run("cat", image.toString(), "kernel/nope.ko"), "not in");
        assertOneLineError(Kmodpack.run("cat", image.toString(), "kernel"), "is a directory");

        Path file = tmp.resolve("a-file");
        Files.writeString(file, "x");
        assertOneLineError(Kmodpack.run("extract", image.toString(), file.toString()), "not a directory");

        assertUsageError(Kmodpack.run("build", "-b", base.toString(), "--codec", "zip", VER), "unknown codec");
        assertUsageError(Kmodpack.run("build", "-b", base.toString(), "--block-size", "3000", VER), "power of two");

        Kmodpack.Result debug = Kmodpack.run("--debug", "ls", notImage.toString());
        assertNotEquals(0, debug.exit());
        assertTrue(debug.err().contains("\tat "), "--debug shows the stack trace");
    }

    @Test
    void unsupportedFileTypeFailsWithoutLeavingAnImage() throws Exception {
        Path b2 = tmp.resolve("base2");
        Path mods = b2.resolve("lib/modules/v");
        Files.createDirectories(mods);
        Files.createDirectories(b2.resolve("boot"));
        Files.writeString(mods.resolve("modules.dep"), "");
        Process mk = new ProcessBuilder("mkfifo", mods.resolve("a-pipe").toString()).start();
        assertEquals(0, mk.waitFor());
        assertOneLineError(Kmodpack.run("build", "-b", b2.toString(), "v"), "named pipe");
        assertEquals(List.of(""), TreeAssert.relativePaths(b2.resolve("boot")), "no image and no temporary file left");
    }

    @Test
    void lsEscapesNamesAsGnuLsDashB() throws Exception {
        // Names an image could use to drive a terminal, next to ordinary and non-ASCII ones.
        Path mods = tmp.resolve("names/lib/modules/v");
        Path dir = Files.createDirectories(mods.resolve("d\033[2Jx"));
        String[] names = {"a\nb", "esc\033]0;title\007", "sp ace", "back\\slash", "tab\t", "del\177",
            "\u00fcn\u00ef", "nel\u0085x", "plain.ko"};
        for (String n : names) {
            Files.writeString(dir.resolve(n), "x");
        }
        Files.createSymbolicLink(dir.resolve("link"), Path.of("to\rthe\033[1mtarget"));
        Path img = tmp.resolve("names.img");
        assertEquals(0, Kmodpack.run("build", "-b", tmp.resolve("names").toString(), "-o", img.toString(), "v").exit());

        Kmodpack.Result ls = Kmodpack.run("ls", img.toString(), "d\033[2Jx");
        assertEquals(0, ls.exit(), ls.toString());
        assertEquals(gnuLs(dir, "-b"), ls.out());
        Kmodpack.Result rec = Kmodpack.run("ls", "-R", img.toString());
        assertEquals(0, rec.exit(), rec.toString());
        assertTrue(rec.out().contains("d\\033[2Jx/esc\\033]0;title\\a\n"), rec.out());
        Kmodpack.Result lsl = Kmodpack.run("ls", "-l", img.toString(), "d\033[2Jx/link");
        assertTrue(lsl.out().endsWith("d\\033[2Jx/link -> to\\rthe\\033[1mtarget\n"), lsl.out());
        for (Kmodpack.Result r : List.of(ls, rec, lsl)) {
            assertTrue(r.out().chars().noneMatch(c -> c < 0x20 && c != '\n' || c == 0x7f || c == 0x85), "raw control bytes: " + r.out());
        }
    }

    /** cat, ls and extract resolve links as the kernel would under the tree's directory. */
    @Test
    void catLsAndExtractFollowLinksInsideTheTree() throws Exception {
        Path mods = tmp.resolve("links/lib/modules/v");
        Files.createDirectories(mods.resolve("kernel/fs"));
        Files.writeString(mods.resolve("kernel/fs/a.ko"), "module a");
        Files.createSymbolicLink(mods.resolve("updates"), Path.of("kernel"));
        Files.createSymbolicLink(mods.resolve("kernel/fs/same.ko"), Path.of("../fs/a.ko"));
        Files.createSymbolicLink(mods.resolve("loop"), Path.of("loop"));
        Files.createSymbolicLink(mods.resolve("build"), Path.of("/usr/src/linux-headers-v"));
        Path img = tmp.resolve("links.img");
        assertEquals(0, Kmodpack.run("build", "-b", tmp.resolve("links").toString(), "-o", img.toString(), "v").exit());

        for (String p : List.of("updates/fs/a.ko", "kernel/fs/same.ko", "updates/fs/same.ko")) {
            Kmodpack.Result cat = Kmodpack.run("cat", img.toString(), p);
            assertEquals("module a", cat.out(), cat.toString());
        }
        assertOneLineError(Kmodpack.run("cat", img.toString(), "loop"), "too many levels of symbolic links");
        assertOneLineError(Kmodpack.run("cat", img.toString(), "build"), "not in");
        Kmodpack.Result ls = Kmodpack.run("ls", img.toString(), "updates/fs");
        assertEquals("a.ko\nsame.ko\n", ls.out(), ls.toString());
        Kmodpack.Result lsl = Kmodpack.run("ls", "-l", img.toString(), "updates/fs/same.ko");
        assertTrue(lsl.out().endsWith("same.ko -> ../fs/a.ko\n"), lsl.toString());
        // A link named last is extracted as the link; the directories it lies in come with it.
        Path out = tmp.resolve("links-out");
        assertEquals(0, Kmodpack.run("extract", img.toString(), out.toString(), "updates/fs/same.ko").exit());
        assertEquals(Path.of("../fs/a.ko"), Files.readSymbolicLink(out.resolve("kernel/fs/same.ko")));
    }

    /** GNU ls's own listing of a directory in a UTF-8 locale, one name a line, byte order. */
    static String gnuLs(Path dir, String style) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("ls", style, "-1", dir.toString());
        pb.environment().put("LC_ALL", "C.UTF-8");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor());
        return out;
    }

    /** A 377-byte file whose header claims a 2 GiB index (valid checksums, as an attacker writes them). */
    static byte[] hugeIndexClaim() {
        byte[] f = new byte[377];
        for (int i = Header.SIZE; i < f.length; i++) {
            f[i] = (byte) (i * 31);
        }
        byte[] h = new Header(1, 0, Codec.XZ.id, Codec.XZ.id, 1 << 20, 0, Header.SIZE, f.length - Header.SIZE,
                Integer.MAX_VALUE - 16, ImageLayout.crc(f, Header.SIZE, f.length - Header.SIZE), 0).encode();
        System.arraycopy(h, 0, f, 0, Header.SIZE);
        return f;
    }

    @Test
    void hostileNumbersAreRefusedUnderASmallHeap() throws Exception {
        Path p = Files.write(tmp.resolve("claims-2GiB"), hugeIndexClaim());
        assertEquals(377, Files.size(p));
        for (String cmd : List.of("info", "ls", "verify")) {
            assertOneLineError(Kmodpack.runJvm(List.of("-Xmx64m"), cmd, p.toString()), "cannot decode to");
        }
    }

    @Test
    void errorsFromTheJvmAreOneLineToo() throws Exception {
        // 64 MiB blocks need a 64 MiB xz dictionary to read: more than a 16 MiB heap holds.
        Path src = tmp.resolve("big-blocks/lib/modules/v");
        Files.createDirectories(src);
        Files.writeString(src.resolve("modules.dep"), "kernel/a.ko:\n".repeat(10_000));
        Path img = tmp.resolve("big-blocks.img");
        Kmodpack.Result b = Kmodpack.run("build", "-b", tmp.resolve("big-blocks").toString(), "-o", img.toString(), "--block-size", "64M", "v");
        assertEquals(0, b.exit(), b.toString());
        // The Java decoder keeps its dictionary on the heap (liblzma's lies outside it).
        Kmodpack.Result r = Kmodpack.runJvm(List.of("-Xmx16m", "-Dkmodpack.javaLzma=true"), "cat", img.toString(), "modules.dep");
        assertOneLineError(r, "out of memory");
        assertEquals(1, r.exit());
        Kmodpack.Result d = Kmodpack.runJvm(List.of("-Xmx16m", "-Dkmodpack.javaLzma=true"), "--debug", "cat", img.toString(), "modules.dep");
        assertTrue(d.err().contains("OutOfMemoryError"), d.toString());
    }

    @Test
    void usageErrorsExit2AndOperationalErrorsExit1() throws Exception {
        assertUsageError(Kmodpack.run("ls", "--bogus", image.toString()), "Unknown option: '--bogus'");
        assertUsageError(Kmodpack.run("ls"), "Missing required parameter");
        assertUsageError(Kmodpack.run(), "a command is needed");
        assertUsageError(Kmodpack.run("frobnicate"), "frobnicate");
        assertUsageError(Kmodpack.run("build", "--codec", "zstd", VER), "unknown codec 'zstd' (choose xz, lz4 or none)");
        assertUsageError(Kmodpack.run("build", "--block-size", "1Q", VER), "'1Q' is not a size");
        assertUsageError(Kmodpack.run("build", "--block-size", "99999999999999999G", VER), "is not a size");
        assertUsageError(Kmodpack.run("build", "--level", "42", VER), "xz level must be from 0 to 9");
        assertUsageError(Kmodpack.run("build", "--best", "--codec", "lz4", VER), "--best goes with --codec xz");
        assertUsageError(Kmodpack.run("build", "-b", base.toString(), ".."), "is not a kernel version");
        assertFalse(Files.exists(base.resolve("boot/modules-..")));
        Kmodpack.Result missing = Kmodpack.run("info", tmp.resolve("absent").toString());
        assertOneLineError(missing, "no such file");
        assertEquals(1, missing.exit(), missing.toString());
        // --codec offers its values to shell completion (and to --help).
        Kmodpack.Result help = Kmodpack.run("build", "--help");
        assertTrue(help.out().contains("One of none, lz4, xz"), help.out());
    }

    @Test
    void versionComesFromTheJarManifest() throws Exception {
        Kmodpack.Result v = Kmodpack.run("--version");
        assertEquals(0, v.exit(), v.toString());
        String expected = System.getProperty("kmodpack.version");
        assertTrue(expected != null && !expected.isEmpty(), "the build passes its version");
        assertEquals("kmodpack " + expected + ", image format " + kmodpack.image.ImageFormat.MAJOR + "."
                + kmodpack.image.ImageFormat.MINOR + "\n", v.out());
    }

    /** A usage error: one line naming the help to read, exit 2 as picocli's own. */
    static void assertUsageError(Kmodpack.Result r, String expected) {
        assertEquals(2, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), "one line: " + r);
        assertTrue(r.err().startsWith("kmodpack: "), r.toString());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in: " + r);
        assertTrue(r.err().contains("--help')"), r.toString());
    }

    static void assertOneLineError(Kmodpack.Result r, String expected) {
        assertNotEquals(0, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), "one line: " + r);
        assertTrue(r.err().startsWith("kmodpack: "), r.toString());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in: " + r);
    }
}

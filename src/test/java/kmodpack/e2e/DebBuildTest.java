package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.airlift.compress.zstd.ZstdOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

import kmodpack.depmod.Depmod;
import kmodpack.testkit.KernelTrees;
import org.apache.commons.compress.archivers.ar.ArArchiveEntry;
import org.apache.commons.compress.archivers.ar.ArArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

/**
 * {@code kmodpack build --deb}: Debian's amd64 package packed as it is gives, once extracted, the
 * same tree as the package unpacked by dpkg-deb and indexed by kmod's depmod; small packages
 * made here check each data.tar compression and hostile or broken packages (one-line error,
 * nothing written).
 */
class DebBuildTest {
    @TempDir
    static Path tmp;

    @Test
    void debianPackageGivesTheUnpackedTree() throws Exception {
        KernelTrees.Tree tree = KernelTrees.get("amd64"); // dpkg-deb -x + depmod
        String[] deb = fetchDeb("amd64");
        assertEquals(tree.version(), deb[1]);
        Path fromTree = tmp.resolve("tree.img");
        Kmodpack.Result r = Kmodpack.run("build", "-b", tree.root().toString(), "-o", fromTree.toString(), "--codec", "none", tree.version());
        assertEquals(0, r.exit(), r.toString());
        Path outRoot = tmp.resolve("out");
        r = Kmodpack.run("build", "--deb", deb[0], "-b", outRoot.toString(), "--codec", "none");
        assertEquals(0, r.exit(), r.toString());
        for (String f : List.of("vmlinuz-", "config-", "System.map-")) {
            assertArrayEquals(Files.readAllBytes(tree.root().resolve("boot").resolve(f + tree.version())),
                    Files.readAllBytes(outRoot.resolve("boot").resolve(f + tree.version())), f);
        }
        Path a = tmp.resolve("x-tree");
        Path b = tmp.resolve("x-deb");
        assertEquals(0, Kmodpack.run("extract", fromTree.toString(), a.toString()).exit());
        assertEquals(0, Kmodpack.run("extract", outRoot.resolve("boot/modules-" + tree.version()).toString(), b.toString()).exit());
        assertSameFiles(a, b);
        try (Stream<Path> s = Files.list(outRoot.resolve("boot"))) {
            assertEquals(4, s.count(), "boot/ holds the image, vmlinuz, config and System.map");
        }
    }

    /** Same names, types, modes, bytes and link targets; same mtimes except for depmod's files, written at different times. */
    private static void assertSameFiles(Path a, Path b) throws IOException {
        List<String> na = names(a);
        assertEquals(na, names(b));
        for (String rel : na) {
            Path x = a.resolve(rel);
            Path y = b.resolve(rel);
            Map<String, Object> sx = Files.readAttributes(x, "unix:mode,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
            Map<String, Object> sy = Files.readAttributes(y, "unix:mode,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
            assertEquals(sx.get("mode"), sy.get("mode"), rel + ": mode");
            if (Files.isSymbolicLink(x)) {
                assertEquals(Files.readSymbolicLink(x), Files.readSymbolicLink(y), rel);
            } else if (Files.isRegularFile(x, LinkOption.NOFOLLOW_LINKS)) {
                assertTrue(Arrays.equals(Files.readAllBytes(x), Files.readAllBytes(y)), rel + ": bytes differ");
                if (!Depmod.OUTPUT_FILES.contains(rel)) {
                    assertEquals(sx.get("lastModifiedTime"), sy.get("lastModifiedTime"), rel + ": mtime");
                }
            }
        }
    }

    private static List<String> names(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.map(p -> root.relativize(p).toString()).sorted().collect(Collectors.toList());
        }
    }

    private static String[] fetchDeb(String arch) throws Exception {
        Process p = new ProcessBuilder(KernelTrees.projectHome().resolve("scripts/fetch-kernel-deb").toString(), arch)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor(), "scripts/fetch-kernel-deb " + arch);
        return out.split(" ");
    }

    // ---- small packages made here ----

    private record E(String name, char type, byte[] data, String link) {
        static E dir(String name) {
            return new E(name, 'd', null, null);
        }

        static E file(String name, byte[] data) {
            return new E(name, 'f', data, null);
        }

        static E link(String name, String target) {
            return new E(name, 'l', null, target);
        }
    }

    private static byte[] tar(List<E> entries) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(bo)) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (E e : entries) {
                TarArchiveEntry te = switch (e.type) {
                    case 'd' -> new TarArchiveEntry(e.name, true);
                    case 'l' -> {
                        TarArchiveEntry l = new TarArchiveEntry(e.name, TarConstants.LF_SYMLINK, true);
                        l.setLinkName(e.link);
                        yield l;
                    }
                    default -> new TarArchiveEntry(e.name, true);
                };
                if (e.type == 'f') {
                    te.setSize(e.data.length);
                    te.setMode(0100644);
                } else if (e.type == 'd') {
                    te.setMode(040755);
                }
                te.setModTime(1_700_000_000_000L);
                t.putArchiveEntry(te);
                if (e.data != null) {
                    t.write(e.data);
                }
                t.closeArchiveEntry();
            }
        }
        return bo.toByteArray();
    }

    private static byte[] compress(String kind, byte[] raw) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (OutputStream o = switch (kind) {
            case "xz" -> new XZOutputStream(bo, new LZMA2Options(1));
            case "zst" -> new ZstdOutputStream(bo);
            case "gz" -> new GZIPOutputStream(bo);
            default -> bo;
        }) {
            o.write(raw);
        }
        return bo.toByteArray();
    }

    private static Path deb(String name, String dataMember, byte[] data) throws IOException {
        Path p = tmp.resolve("pkgs").resolve(name + ".deb");
        Files.createDirectories(p.getParent());
        try (ArArchiveOutputStream ar = new ArArchiveOutputStream(Files.newOutputStream(p))) {
            member(ar, "debian-binary", "2.0\n".getBytes(StandardCharsets.US_ASCII));
            member(ar, "control.tar.gz", compress("gz", tar(List.of(E.file("./control", "Package: x\n".getBytes(StandardCharsets.US_ASCII))))));
            if (dataMember != null) {
                member(ar, dataMember, data);
            }
        }
        return p;
    }

    private static void member(ArArchiveOutputStream ar, String name, byte[] b) throws IOException {
        ar.putArchiveEntry(new ArArchiveEntry(name, b.length));
        ar.write(b);
        ar.closeArchiveEntry();
    }

    /** A small kernel package around one real module (fuse, which needs no other) and its modules.order. */
    private static List<E> kernelEntries(String version) throws IOException {
        KernelTrees.Tree t = KernelTrees.get("amd64");
        byte[] fuse = Files.readAllBytes(t.modulesDir().resolve("kernel/fs/fuse/fuse.ko"));
        String m = "./lib/modules/" + version + "/";
        return new ArrayList<>(List.of(E.dir("./"), E.dir("./boot/"),
                E.file("./boot/vmlinuz-" + version, "not really a kernel".getBytes(StandardCharsets.US_ASCII)),
                E.dir("./lib/"), E.dir("./lib/modules/"), E.dir(m), E.dir(m + "kernel/"), E.dir(m + "kernel/fs/"),
                E.dir(m + "kernel/fs/fuse/"), E.file(m + "kernel/fs/fuse/fuse.ko", fuse),
                E.file(m + "modules.order", "kernel/fs/fuse/fuse.ko\n".getBytes(StandardCharsets.US_ASCII))));
    }

    @Test
    void everyDataTarCompression() throws Exception {
        for (String kind : List.of("xz", "zst", "gz", "none")) {
            String member = kind.equals("none") ? "data.tar" : "data.tar." + kind;
            Path deb = deb("small-" + kind, member, compress(kind, tar(kernelEntries("1.2.3-test"))));
            Path out = tmp.resolve("small-out-" + kind);
            Kmodpack.Result r = Kmodpack.run("build", "--deb", deb.toString(), "-b", out.toString(), "--codec", "none");
            assertEquals(0, r.exit(), kind + ": " + r);
            assertEquals("not really a kernel", Files.readString(out.resolve("boot/vmlinuz-1.2.3-test")));
            byte[] dep = Kmodpack.runBytes("cat", out.resolve("boot/modules-1.2.3-test").toString(), "modules.dep");
            assertEquals("kernel/fs/fuse/fuse.ko:\n", new String(dep, StandardCharsets.US_ASCII), kind);
            byte[] alias = Kmodpack.runBytes("cat", out.resolve("boot/modules-1.2.3-test").toString(), "modules.alias");
            assertTrue(new String(alias, StandardCharsets.US_ASCII).contains("alias devname:fuse fuse\n"), kind);
        }
    }

    private static void assertRefused(String name, Path deb, String expected) throws Exception {
        Path out = tmp.resolve("refused-" + name);
        Files.createDirectories(out);
        Kmodpack.Result r = Kmodpack.run("build", "--deb", deb.toString(), "-b", out.toString(), "--codec", "none");
        assertTrue(r.exit() != 0, name + ": " + r);
        assertEquals(1, r.err().lines().count(), name + ": one line: " + r);
        assertTrue(r.err().startsWith("kmodpack: ") && r.err().contains(expected), name + ": " + r);
        try (Stream<Path> s = Files.walk(out)) {
            assertEquals(List.of(out), s.collect(Collectors.toList()), name + ": nothing written");
        }
    }

    @Test
    void brokenAndHostilePackages() throws Exception {
        Path notAr = tmp.resolve("pkgs/not-ar.deb");
        Files.createDirectories(notAr.getParent());
        Files.write(notAr, "just some text, not an archive\n".getBytes(StandardCharsets.US_ASCII));
        assertRefused("not-ar", notAr, "not a Debian package");
        assertRefused("no-data", deb("no-data", null, null), "no data.tar");

        assertRefused("not-kernel", deb("not-kernel", "data.tar.xz", compress("xz", tar(List.of(E.dir("./"),
                E.dir("./usr/"), E.file("./usr/readme", new byte[10]))))), "not a kernel package");
        assertRefused("no-modules", deb("no-modules", "data.tar.gz", compress("gz", tar(List.of(E.dir("./"),
                E.dir("./lib/modules/1.0/"), E.file("./lib/modules/1.0/modules.order", new byte[0]))))), "no modules");

        List<E> dotdot = kernelEntries("1.0");
        dotdot.add(E.file("./lib/modules/1.0/../../../../evil", new byte[] {1}));
        assertRefused("dotdot", deb("dotdot", "data.tar.xz", compress("xz", tar(dotdot))), "unsafe name");
        List<E> absolute = kernelEntries("1.0");
        absolute.add(E.file("/tmp/evil-absolute", new byte[] {1}));
        assertRefused("absolute", deb("absolute", "data.tar.xz", compress("xz", tar(absolute))), "unsafe name");
        assertTrue(Files.notExists(Path.of("/tmp/evil-absolute")));
        List<E> linkOut = kernelEntries("1.0");
        linkOut.add(E.link("./lib/modules/1.0/kernel/evil.ko", "../../../../etc/shadow"));
        assertRefused("link-out", deb("link-out", "data.tar.xz", compress("xz", tar(linkOut))), "points out of the module tree");
        List<E> linkAbs = kernelEntries("1.0");
        linkAbs.add(E.link("./lib/modules/1.0/build", "/usr/src/linux"));
        assertRefused("link-absolute", deb("link-absolute", "data.tar.xz", compress("xz", tar(linkAbs))), "points out of the module tree");

        // A compressed data.tar cut short, and a tar whose last file never ends.
        byte[] xz = compress("xz", tar(kernelEntries("1.0")));
        assertRefused("truncated-xz", deb("truncated-xz", "data.tar.xz", Arrays.copyOf(xz, xz.length / 2)), "data.tar");
        byte[] raw = tar(kernelEntries("1.0"));
        int elf = 0;
        while (!(raw[elf] == 0x7f && raw[elf + 1] == 'E' && raw[elf + 2] == 'L' && raw[elf + 3] == 'F')) {
            elf++;
        }
        assertRefused("endless", deb("endless", "data.tar", Arrays.copyOf(raw, elf + 1000)), "data.tar");
        // Not Debian's format: an archive member claiming more bytes than the file has.
        Path cut = deb("cut-ar", "data.tar.gz", compress("gz", tar(kernelEntries("1.0"))));
        byte[] whole = Files.readAllBytes(cut);
        Files.write(cut, Arrays.copyOf(whole, whole.length - 100));
        assertRefused("cut-ar", cut, "");
    }
}

package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import kmodpack.testkit.KernelTrees;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A whole real tree (Debian's amd64 modules) mounted in the background: every name, stat and
 * byte against the tree it was built from, and kmod's own tools through the mount against the
 * same tools on the tree.
 */
class MountTreeTest {
    @TempDir
    static Path tmp;
    static KernelTrees.Tree tree;
    static Path image;
    /** ROOT/lib/modules/VERSION is the mount point, so kmod's -d/-b ROOT reads through it. */
    static Path root;
    static Path mp;

    @BeforeAll
    static void mountWholeTree() throws Exception {
        MountSupport.assumeFuse();
        tree = KernelTrees.get("amd64");
        image = MountSupport.wholeTreeImage(tree);
        root = tmp.resolve("root");
        mp = root.resolve("lib/modules/" + tree.version());
        Files.createDirectories(mp);
        MountSupport.mount(image, mp);
    }

    @AfterAll
    static void unmount() throws Exception {
        if (mp != null && MountSupport.isMounted(mp)) {
            MountSupport.umount(mp);
            MountSupport.forceUnmount(mp);
        }
    }

    @Test
    void mountTableShowsAReadOnlyKmodpackMount() throws Exception {
        assertEquals("fuse.kmodpack", MountSupport.mountType(mp));
        String real = " " + mp.toRealPath() + " ";
        String line = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                .filter(l -> l.contains(real)).findFirst().orElseThrow();
        assertTrue(line.contains(" ro,") || line.contains(" ro "), line);
        assertTrue(line.contains("fuse.kmodpack " + image.toAbsolutePath().normalize() + " "), line);
        MountSupport.Cmd df = MountSupport.run("stat", "-f", "-c", "%b %S %f %c", mp.toString());
        String[] f = df.out().trim().split(" ");
        long bytes = Long.parseLong(f[0]) * Long.parseLong(f[1]);
        assertTrue(Math.abs(bytes - Files.size(image)) < 4096, "statfs size is the image's: " + df);
        assertEquals("0", f[2], "no free blocks");
    }

    @Test
    void everyNameStatAndByteMatchesTheTree() throws Exception {
        // Names, types, mode, size, mtime (to the nanosecond), link targets and bytes.
        TreeAssert.assertSameTree(tree.modulesDir(), mp);
        // Link counts, owners and inodes (unique, stable across a remount).
        Map<String, Long> inodes = new HashMap<>();
        for (String rel : TreeAssert.relativePaths(tree.modulesDir())) {
            Path src = rel.isEmpty() ? tree.modulesDir() : tree.modulesDir().resolve(rel);
            Path in = rel.isEmpty() ? mp : mp.resolve(rel);
            Map<String, Object> a = Files.readAttributes(src, "unix:nlink,uid,gid", LinkOption.NOFOLLOW_LINKS);
            Map<String, Object> b = Files.readAttributes(in, "unix:nlink,uid,gid,ino", LinkOption.NOFOLLOW_LINKS);
            assertEquals(a.get("nlink"), b.get("nlink"), rel + ": link count");
            assertEquals(a.get("uid"), b.get("uid"), rel + ": owner");
            assertEquals(a.get("gid"), b.get("gid"), rel + ": group");
            inodes.put(rel, (Long) b.get("ino"));
        }
        assertEquals(inodes.size(), inodes.values().stream().distinct().count(), "inode numbers are unique");
        assertEquals(1L, inodes.get(""), "the root is inode 1");

        MountSupport.umount(mp);
        MountSupport.mount(image, mp);
        for (Map.Entry<String, Long> e : inodes.entrySet()) {
            Path in = e.getKey().isEmpty() ? mp : mp.resolve(e.getKey());
            assertEquals(e.getValue(), Files.getAttribute(in, "unix:ino", LinkOption.NOFOLLOW_LINKS), e.getKey() + ": inode after a remount");
        }
    }

    @Test
    void findAndTarSeeTheSameTree() throws Exception {
        MountSupport.Cmd a = MountSupport.run(List.of("find", ".", "-printf", "%p %y %m %s %T@ %l\\n"), tree.modulesDir());
        MountSupport.Cmd b = MountSupport.run(List.of("find", ".", "-printf", "%p %y %m %s %T@ %l\\n"), mp);
        assertEquals(0, b.exit(), b.toString());
        List<String> la = a.out().lines().filter(l -> !l.startsWith(". ")).map(MountTreeTest::dropDirSize).sorted().toList();
        List<String> lb = b.out().lines().filter(l -> !l.startsWith(". ")).map(MountTreeTest::dropDirSize).sorted().toList();
        assertEquals(la, lb);
        assertTrue(lb.size() > 4000, "the whole tree: " + lb.size());

        // tar stores names, modes, owners, mtimes, link targets and bytes: the archives match.
        String tarA = digestOf(List.of("tar", "--sort=name", "--format=gnu", "-cf", "-", "."), tree.modulesDir());
        String tarB = digestOf(List.of("tar", "--sort=name", "--format=gnu", "-cf", "-", "."), mp);
        assertEquals(tarA, tarB, "tar of the mount equals tar of the tree");
    }

    private static String dropDirSize(String line) {
        String[] f = line.split(" ");
        if (f[1].equals("d")) {
            f[3] = "-";
        }
        return String.join(" ", f);
    }

    private static String digestOf(List<String> cmd, Path dir) throws Exception {
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = p.getInputStream()) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + " in " + dir);
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void modprobeShowDependsForEveryModuleMatchesTheTree() throws Exception {
        List<String> names = moduleNames();
        assertTrue(names.size() > 3000, "modules: " + names.size());
        Path noConfig = Files.createDirectories(tmp.resolve("empty-modprobe.d"));
        String a = showDepends(tree.root(), noConfig, names);
        String b = showDepends(root, noConfig, names);
        assertEquals(a.replace(tree.root().toString(), "ROOT"), b.replace(root.toString(), "ROOT"));
        assertTrue(b.lines().filter(l -> l.startsWith("insmod ")).count() >= names.size(), "every module resolves to insmod lines");
        assertTrue(b.contains("/kernel/fs/ext4/ext4.ko"), b.length() + " bytes");
    }

    private static String showDepends(Path base, Path config, List<String> names) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("modprobe", "-d", base.toString(), "-S", tree.version(), "-C", config.toString(),
                "--show-depends", "-a"));
        cmd.addAll(names);
        MountSupport.Cmd r = MountSupport.run(cmd, null);
        assertEquals(0, r.exit(), r.err());
        return r.out();
    }

    /** Every module's name, from modules.dep of the source tree. */
    private static List<String> moduleNames() throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(tree.modulesDir().resolve("modules.dep"))) {
            String path = line.substring(0, line.indexOf(':'));
            String file = path.substring(path.lastIndexOf('/') + 1);
            out.add(file.substring(0, file.indexOf(".ko")));
        }
        return out;
    }

    @Test
    void modinfoByPathAndByNameMatchesTheTree() throws Exception {
        List<String> names = moduleNames();
        List<String> byName = new ArrayList<>(List.of("modinfo", "-b", "BASE", "-k", tree.version()));
        byName.addAll(names);
        String a = run(byName, tree.root()).replace(tree.root().toString(), "ROOT");
        String b = run(byName, root).replace(root.toString(), "ROOT");
        assertEquals(a, b);
        assertTrue(b.contains("filename:       ROOT/lib/modules/" + tree.version() + "/kernel/fs/ext4/ext4.ko"), "modinfo found ext4");

        List<String> paths = new ArrayList<>();
        for (String line : Files.readAllLines(tree.modulesDir().resolve("modules.dep"))) {
            paths.add(line.substring(0, line.indexOf(':')));
        }
        List<String> byPath = new ArrayList<>(List.of("modinfo"));
        byPath.addAll(paths);
        // modinfo prints each file's absolute path.
        String c = MountSupport.run(byPath, tree.modulesDir()).out().replace(tree.root().toString(), "ROOT");
        MountSupport.Cmd d = MountSupport.run(byPath, mp);
        assertEquals(0, d.exit(), d.err());
        assertEquals(c, d.out().replace(root.toString(), "ROOT"));
        assertEquals(paths.size(), d.out().lines().filter(l -> l.startsWith("filename:")).count());
    }

    private static String run(List<String> template, Path base) throws Exception {
        List<String> cmd = template.stream().map(s -> s.equals("BASE") ? base.toString() : s).toList();
        MountSupport.Cmd r = MountSupport.run(cmd, null);
        assertEquals(0, r.exit(), r.err());
        return r.out();
    }

    @Test
    void depmodReadingThroughTheMountWritesTheSameIndexes() throws Exception {
        // depmod -n reads every module and writes every index (text and binary) to stdout.
        String a = digestOf(List.of("depmod", "-n", "-b", tree.root().toString(), tree.version()), tmp);
        String b = digestOf(List.of("depmod", "-n", "-b", root.toString(), tree.version()), tmp);
        assertEquals(a, b);
        MountSupport.Cmd dep = MountSupport.run("sh", "-c", "depmod -n -b '" + root + "' " + tree.version() + " | grep -a -c '^kernel/fs/ext4/ext4.ko:'");
        assertEquals("1", dep.out().trim(), "depmod output holds ext4's line: " + dep);
    }

    @Test
    void indexFilesAreMmappable() throws Exception {
        for (String name : List.of("modules.dep.bin", "modules.alias.bin", "modules.symbols.bin")) {
            try (FileChannel ch = FileChannel.open(mp.resolve(name), StandardOpenOption.READ)) {
                MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size());
                byte[] got = new byte[m.remaining()];
                m.get(got);
                assertArrayEquals(Files.readAllBytes(tree.modulesDir().resolve(name)), got, name);
                assertEquals(0xB007F457, ByteBuffer.wrap(got).getInt(), name + " starts with the kmod index magic");
            }
        }
    }

    @Test
    void eightParallelReadersOfTheWholeTreeGetCorrectBytes() throws Exception {
        // A fresh mount: nothing cached in the kernel yet, so the readers race on the server.
        MountSupport.umount(mp);
        MountSupport.mount(image, mp);
        List<String> files;
        try (Stream<Path> s = Files.walk(tree.modulesDir())) {
            files = s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    .map(p -> tree.modulesDir().relativize(p).toString()).sorted().toList();
        }
        Map<String, String> expected = new HashMap<>();
        for (String f : files) {
            expected.put(f, sha256(tree.modulesDir().resolve(f)));
        }
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> done = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                List<String> order = new ArrayList<>(files);
                Collections.shuffle(order, new Random(t));
                done.add(pool.submit(() -> {
                    for (String f : order) {
                        assertEquals(expected.get(f), sha256(mp.resolve(f)), f);
                    }
                    return order.size();
                }));
            }
            for (Future<Integer> f : done) {
                assertEquals(files.size(), f.get());
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void everyWriteIsRefusedAsReadOnly() throws Exception {
        Path ext4 = mp.resolve("kernel/fs/ext4/ext4.ko");
        List<List<String>> writes = List.of(
                List.of("touch", mp.resolve("new-file").toString()),
                List.of("touch", ext4.toString()),
                List.of("mkdir", mp.resolve("new-dir").toString()),
                List.of("rm", "-f", ext4.toString()),
                List.of("rmdir", mp.resolve("kernel/fs/ext4").toString()),
                List.of("mv", ext4.toString(), mp.resolve("kernel/fs/ext4.ko").toString()),
                List.of("ln", ext4.toString(), mp.resolve("hard").toString()),
                List.of("ln", "-s", "x", mp.resolve("soft").toString()),
                List.of("chmod", "600", ext4.toString()),
                List.of("chown", "1:1", ext4.toString()),
                List.of("truncate", "-s", "0", ext4.toString()),
                List.of("setfattr", "-n", "user.x", "-v", "1", ext4.toString()),
                List.of("sh", "-c", "echo x >> " + ext4));
        for (List<String> w : writes) {
            MountSupport.Cmd r;
            try {
                r = MountSupport.run(w, null);
            } catch (IOException e) {
                continue; // a tool this machine lacks (setfattr)
            }
            assertNotEquals(0, r.exit(), String.join(" ", w));
            assertTrue(r.err().contains("Read-only file system"), String.join(" ", w) + ": " + r.err());
        }
        FileSystemException e = org.junit.jupiter.api.Assertions.assertThrows(FileSystemException.class,
                () -> Files.newOutputStream(ext4, StandardOpenOption.APPEND).close());
        assertTrue(String.valueOf(e.getReason()).contains("Read-only"), e.toString());
        assertEquals(sha256(tree.modulesDir().resolve("kernel/fs/ext4/ext4.ko")), sha256(ext4), "unchanged");
        assertFalse(Files.exists(mp.resolve("new-file")));
    }
}

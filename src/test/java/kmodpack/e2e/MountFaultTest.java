package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import kmodpack.testkit.KernelTrees;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults around a mount: damaged and truncated images, a server killed with -9, SIGTERM,
 * unmounting with a file open, and bad input. A slice of a real tree, in 64 KiB blocks so that
 * the files spread over many blocks.
 */
class MountFaultTest {
    @TempDir
    static Path tmp;
    static Path src;
    static Path image;
    static final String VER = "6.1.0-mount";
    final List<Path> mounted = new ArrayList<>();
    final List<Process> servers = new ArrayList<>();

    @BeforeAll
    static void buildSlice() throws Exception {
        MountSupport.assumeFuse();
        KernelTrees.Tree tree = KernelTrees.get("amd64");
        Path base = tmp.resolve("base");
        src = base.resolve("lib/modules/" + VER);
        Files.createDirectories(src.resolve("kernel/fs"));
        for (String p : List.of("kernel/fs/ext4", "kernel/fs/jbd2", "kernel/fs/fat", "kernel/fs/nls", "modules.dep", "modules.dep.bin", "modules.order")) {
            Process cp = new ProcessBuilder("cp", "-a", tree.modulesDir().resolve(p).toString(), src.resolve(p).toString()).inheritIO().start();
            assertEquals(0, cp.waitFor());
        }
        Files.createSymbolicLink(src.resolve("build"), Path.of("/usr/src/linux-headers-" + VER));
        image = tmp.resolve("slice.img");
        Kmodpack.Result r = Kmodpack.run("build", "-b", base.toString(), "-o", image.toString(), "--codec", "lz4", "--level", "1",
                "--block-size", "64K", VER);
        assertEquals(0, r.exit(), r.toString());
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : servers) {
            if (p.isAlive()) {
                p.destroy();
                p.waitFor(20, TimeUnit.SECONDS);
            }
        }
        for (Path mp : mounted) {
            MountSupport.forceUnmount(mp);
        }
    }

    Path mountPoint(String name) throws IOException {
        Path mp = Files.createDirectories(tmp.resolve("mnt").resolve(name));
        mounted.add(mp);
        return mp;
    }

    /** kmodpack mount -f, its messages going to {@code log}; returns once the mount is in the table. */
    Process foreground(Path img, Path mp, Path log) throws Exception {
        return foreground(img, mp, log, null);
    }

    /** The same with KMODPACK_FUSE set to {@code server} (null: unset). */
    Process foreground(Path img, Path mp, Path log, String server) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(Kmodpack.command("mount", "-f", img.toString(), mp.toString()));
        pb.environment().remove("KMODPACK_FUSE");
        if (server != null) {
            pb.environment().put("KMODPACK_FUSE", server);
        }
        Process p = pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
        servers.add(p);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!MountSupport.isMounted(mp)) {
            assertTrue(p.isAlive(), () -> "mount -f exited: " + read(log));
            assertTrue(System.nanoTime() < end, "not mounted within 120 s");
            Thread.sleep(50);
        }
        return p;
    }

    static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return e.toString();
        }
    }

    static List<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(p -> !Files.isSymbolicLink(p)).map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void damagedBlockGivesEioForItsFilesOnlyAndIsLoggedOnce() throws Exception {
        byte[] b = Files.readAllBytes(image);
        b[200] ^= 0x40; // in block 0's stored bytes
        Path damaged = tmp.resolve("damaged.img");
        Files.write(damaged, b);
        Kmodpack.Result v = Kmodpack.run("verify", damaged.toString());
        List<String> bad = v.err().lines().filter(l -> l.contains("damaged file: "))
                .map(l -> l.substring(l.indexOf("damaged file: ") + 14).trim()).toList();
        assertFalse(bad.isEmpty(), v.toString());

        Path mp = mountPoint("damaged");
        Path log = tmp.resolve("damaged.log");
        Process server = foreground(damaged, mp, log);
        for (int round = 0; round < 2; round++) {
            for (String f : files(src)) {
                if (bad.contains(f)) {
                    IOException e = assertThrows(IOException.class, () -> Files.readAllBytes(mp.resolve(f)), f);
                    assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), f + ": " + e);
                } else {
                    assertArrayEquals(Files.readAllBytes(src.resolve(f)), Files.readAllBytes(mp.resolve(f)), f);
                }
            }
        }
        assertTrue(server.isAlive(), "the server keeps serving");
        assertTrue(Files.isDirectory(mp.resolve("kernel/fs/ext4")));
        List<String> lines = read(log).lines().filter(l -> l.contains("damaged block 0")).toList();
        assertEquals(1, lines.size(), "logged once: " + read(log));
        assertTrue(lines.get(0).startsWith("kmodpack: " + damaged), lines.get(0));
        server.destroy();
        assertTrue(server.waitFor(30, TimeUnit.SECONDS), "SIGTERM ends the server");
        assertFalse(MountSupport.isMounted(mp), "SIGTERM unmounts");
    }

    /**
     * Root mounts through the kernel-protocol server, which maps no FUSE library; KMODPACK_FUSE=libfuse
     * picks the libfuse server that users who cannot mount get, and it serves the same bytes.
     */
    @Test
    void rootServesTheKernelProtocolItselfAndLibfuseOnRequest() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(MountSupport.run("id", "-u").out().trim().equals("0"), "needs root");
        for (String server : new String[] {null, "libfuse"}) {
            Path mp = mountPoint("server-" + server);
            Path log = tmp.resolve("server-" + server + ".log");
            Process p = foreground(image, mp, log, server);
            String maps = Files.readString(Path.of("/proc/" + p.pid() + "/maps"));
            assertEquals(server != null, maps.contains("libfuse.so"), "libfuse mapped with KMODPACK_FUSE=" + server);
            for (String f : files(src)) {
                assertArrayEquals(Files.readAllBytes(src.resolve(f)), Files.readAllBytes(mp.resolve(f)), f);
            }
            TreeAssert.assertSameTree(src, mp);
            String real = " " + mp.toRealPath() + " ";
            String line = Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
                    .filter(l -> l.contains(real)).findFirst().orElseThrow();
            assertTrue(line.contains(" ro,nosuid,nodev") && line.contains(" - fuse.kmodpack " + image + " ro,user_id=0,group_id=0,default_permissions"), line);
            MountSupport.umount(mp);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the server exits once unmounted");
            assertEquals(0, p.exitValue(), read(log));
        }
    }

    @Test
    void imageTruncatedOrOverwrittenWhileMountedGivesEio() throws Exception {
        Path copy = tmp.resolve("changing.img");
        Files.copy(image, copy, StandardCopyOption.REPLACE_EXISTING);
        Path mp = mountPoint("changing");
        MountSupport.mount(copy, mp);
        List<String> all = files(src);
        String last = "modules.order";
        // Files in data order: ext4's first, modules.order (the last name) last.
        assertTrue(all.contains(last));
        try (FileChannel ch = FileChannel.open(copy, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        IOException e = assertThrows(IOException.class, () -> Files.readAllBytes(mp.resolve(last)));
        assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), e.toString());
        String firstFile = all.stream().filter(f -> f.startsWith("kernel/fs/ext4/")).findFirst().orElseThrow();
        assertArrayEquals(Files.readAllBytes(src.resolve(firstFile)), Files.readAllBytes(mp.resolve(firstFile)), "the part still there is served");

        // Overwritten in place (same file, other bytes): the checksums catch it.
        Files.write(copy, new byte[(int) Files.size(image)], StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        String jbd2 = "kernel/fs/jbd2/jbd2.ko";
        IOException e2 = assertThrows(IOException.class, () -> Files.readAllBytes(mp.resolve(jbd2)));
        assertTrue(String.valueOf(e2.getMessage()).contains("Input/output error"), e2.toString());
        assertTrue(MountSupport.server(mp).orElseThrow().isAlive(), "the server is still up");
        MountSupport.umount(mp);
    }

    @Test
    void imageReplacedByRenameKeepsServingTheMountedOne() throws Exception {
        Path img = tmp.resolve("renamed.img");
        Files.copy(image, img, StandardCopyOption.REPLACE_EXISTING);
        Path mp = mountPoint("renamed");
        MountSupport.mount(img, mp);
        Path other = tmp.resolve("other.img");
        Files.write(other, new byte[] {1, 2, 3});
        Files.move(other, img, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        // The server holds the file it opened; a rebuild (write and rename) does not disturb it.
        TreeAssert.assertSameTree(src, mp);
        MountSupport.umount(mp);
    }

    @Test
    void deadMountIsRecognisedAndClearedByUmount() throws Exception {
        Path mp = mountPoint("dead");
        MountSupport.mount(image, mp);
        ProcessHandle server = MountSupport.server(mp).orElseThrow();
        server.destroyForcibly(); // kill -9: no chance to unmount
        MountSupport.awaitExit(server, 30);
        // Cached attributes may still answer a stat; listing needs the server.
        FileSystemException e = assertThrows(FileSystemException.class, () -> Files.newDirectoryStream(mp).close());
        assertTrue(e.getMessage().contains("Transport endpoint is not connected"), e.toString());

        Kmodpack.Result again = Kmodpack.run("mount", image.toString(), mp.toString());
        PackerCliTest.assertOneLineError(again, "a dead mount is left here");
        assertTrue(again.err().contains("kmodpack umount " + mp), again.err());

        Kmodpack.Result um = MountSupport.umount(mp);
        assertTrue(um.err().contains("cleared a dead mount"), um.toString());
        assertFalse(MountSupport.isMounted(mp));
        MountSupport.mount(image, mp);
        assertArrayEquals(Files.readAllBytes(src.resolve("modules.dep")), Files.readAllBytes(mp.resolve("modules.dep")));
        MountSupport.umount(mp);
    }

    @Test
    void umountWithAFileOpenDetachesAndTheServerExitsOnClose() throws Exception {
        Path mp = mountPoint("busy");
        MountSupport.mount(image, mp);
        ProcessHandle server = MountSupport.server(mp).orElseThrow();
        String f = "kernel/fs/ext4/ext4.ko";
        byte[] expected = Files.readAllBytes(src.resolve(f));
        ByteBuffer got = ByteBuffer.allocate(expected.length);
        try (FileChannel ch = FileChannel.open(mp.resolve(f), StandardOpenOption.READ)) {
            ch.read(got.limit(4096));
            Kmodpack.Result um = MountSupport.umount(mp);
            assertTrue(um.err().contains("busy") && um.err().contains("detached"), um.toString());
            assertFalse(MountSupport.isMounted(mp), "gone from the mount table");
            got.limit(expected.length);
            while (got.hasRemaining() && ch.read(got) > 0) {
                // the open file still reads
            }
            assertTrue(server.isAlive(), "the server serves the open file");
        }
        assertArrayEquals(expected, got.array());
        MountSupport.awaitExit(server, 30);
        assertFalse(server.isAlive(), "the server exits once the last file is closed");
    }

    @Test
    void sigtermUnmountsABackgroundServer() throws Exception {
        Path mp = mountPoint("term");
        MountSupport.mount(image, mp);
        ProcessHandle server = MountSupport.server(mp).orElseThrow();
        assertTrue(server.parent().isEmpty() || server.parent().get().pid() != ProcessHandle.current().pid(),
                "the server is not the test's child");
        server.destroy(); // SIGTERM
        MountSupport.awaitExit(server, 30);
        assertFalse(server.isAlive());
        assertFalse(MountSupport.isMounted(mp), "unmounted cleanly");
        assertTrue(Files.isDirectory(mp));
    }

    @Test
    void badInputGetsOneLineErrors() throws Exception {
        Path mp = mountPoint("bad");
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", src.resolve("modules.order").toString(), mp.toString()), "not a kmodpack image");
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", tmp.resolve("absent.img").toString(), mp.toString()), "no such file");
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", image.toString(), tmp.resolve("absent-dir").toString()), "no such directory");
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", image.toString(), image.toString()), "not a directory");
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", "-o", "rw", image.toString(), mp.toString()), "read-only");
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", "-o", "no_such_option", image.toString(), mp.toString()), "unknown option `no_such_option'");
        assertFalse(MountSupport.isMounted(mp));
        Path full = Files.createDirectories(tmp.resolve("not-empty"));
        Files.writeString(full.resolve("x"), "x");
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", image.toString(), full.toString()), "not empty");

        MountSupport.mount(image, mp);
        PackerCliTest.assertOneLineError(Kmodpack.run("mount", image.toString(), mp.toString()), "already serves");
        MountSupport.umount(mp);
        PackerCliTest.assertOneLineError(Kmodpack.run("umount", mp.toString()), "not mounted");
        PackerCliTest.assertOneLineError(Kmodpack.run("umount", "/proc"), "not a kmodpack mount");
        PackerCliTest.assertOneLineError(Kmodpack.run("umount", tmp.resolve("absent-dir").toString()), "no such directory");
    }

    @Test
    void missingFuseDeviceGetsAOneLineError() throws Exception {
        // A private mount namespace whose /dev lacks fuse, as in a container started without it.
        Path mp = mountPoint("nodev");
        String script = "mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5"
                + " && mknod -m 666 /dev/random c 1 8 && mknod -m 666 /dev/urandom c 1 9 && exec \"$@\"";
        List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "sh", "-c", script, "sh"));
        cmd.addAll(Kmodpack.command("mount", image.toString(), mp.toString()));
        MountSupport.Cmd r = MountSupport.run(cmd, null);
        org.junit.jupiter.api.Assumptions.assumeFalse(r.err().startsWith("unshare:"), "no mount namespaces here: " + r.err());
        assertNotEquals(0, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertTrue(r.err().startsWith("kmodpack: /dev/fuse is missing"), r.toString());
    }
}

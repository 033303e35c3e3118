package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import kmodpack.image.ImageLayout.Header;
import kmodpack.testkit.KernelTrees;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/kmodpack on the JDK running this suite (CI runs it on JDK 17 and on JDK 25): it answers as
 * the jar does, makes its class-data archive in the background on first use without touching the
 * command's output, keeps only an archive that maps, and runs unchanged when the archive is
 * switched off or cannot be used.
 */
class LauncherTest {
    @TempDir
    Path tmp;

    private record Run(int exit, byte[] out, String err) {
    }

    private Run launcher(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new java.util.ArrayList<>();
        cmd.add(KernelTrees.projectHome().resolve("bin/kmodpack").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("KMODPACK_JAR", Kmodpack.jar().toString());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        pb.environment().remove("JAVA_OPTS");
        pb.environment().remove("KMODPACK_CDS");
        pb.environment().putAll(env);
        Path err = tmp.resolve("err");
        Process p = pb.redirectError(err.toFile()).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES));
        return new Run(p.exitValue(), out, Files.readString(err, StandardCharsets.UTF_8));
    }

    /** What the jar itself prints. */
    private static byte[] direct(String... args) throws IOException, InterruptedException {
        return Kmodpack.runBytes(args);
    }

    /** Waits until no archive is being made in this cache, and returns the archives there. */
    private static List<Path> archivesAfterWriting(Path cache) throws IOException, InterruptedException {
        Path lock = cache.resolve("kmodpack/.lock");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        // The background job may not have taken the lock yet: it exists once the job has started.
        while (!Files.exists(lock) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        Thread.sleep(500);
        // The job holds an flock(2) lock, which Java's FileLock (fcntl) does not see: flock(1) waits.
        Process wait = new ProcessBuilder("flock", lock.toString(), "true").inheritIO().start();
        assertTrue(wait.waitFor(5, TimeUnit.MINUTES));
        try (Stream<Path> s = Files.list(cache.resolve("kmodpack"))) {
            return s.filter(p -> p.getFileName().toString().matches("kmodpack-jdk\\d+-\\d+\\.(jsa|aot)")).toList();
        }
    }

    @Test
    void firstUseMakesAnArchiveThatMapsAndChangesNoOutput() throws Exception {
        Path cache = tmp.resolve("cache");
        Map<String, String> env = Map.of("XDG_CACHE_HOME", cache.toString());
        byte[] expected = direct("--version");
        Run first = launcher(env, "--version");
        assertEquals(0, first.exit(), first.err());
        assertArrayEquals(expected, first.out());
        assertEquals("", first.err());

        List<Path> archives = archivesAfterWriting(cache);
        assertEquals(1, archives.size(), "archives: " + archives);
        Path archive = archives.get(0);
        // Made on this jar: it carries the jar's modification time.
        assertEquals(Files.getLastModifiedTime(Kmodpack.jar()), Files.getLastModifiedTime(archive));
        // It maps: the JVM refuses to start otherwise.
        boolean aot = archive.toString().endsWith(".aot");
        List<String> check = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dfile.encoding=UTF-8", "-Dsun.jnu.encoding=UTF-8"));
        if (Runtime.version().feature() >= 24) {
            check.addAll(List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        }
        check.addAll(aot ? List.of("-XX:AOTMode=on", "-XX:AOTCache=" + archive) : List.of("-Xshare:on", "-XX:SharedArchiveFile=" + archive));
        check.addAll(List.of("-jar", Kmodpack.jar().toString(), "--version"));
        Process p = new ProcessBuilder(check).redirectErrorStream(true).start();
        byte[] checked = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor(), new String(checked, StandardCharsets.UTF_8));
        assertArrayEquals(expected, checked);

        // With the archive: the same answers, and nothing new is made.
        Run second = launcher(env, "--version");
        assertArrayEquals(expected, second.out());
        assertEquals("", second.err());
        Run help = launcher(env, "modprobe", "--help");
        assertArrayEquals(direct("modprobe", "--help"), help.out());
        Run bad = launcher(env, "info", tmp.resolve("no-such-image").toString());
        assertEquals(1, bad.exit());
        assertEquals("kmodpack: " + tmp.resolve("no-such-image") + ": no such file\n", bad.err());
        assertEquals(List.of(archive), archivesAfterWriting(cache));
    }

    @Test
    void anArchiveThatCannotBeUsedIsSkippedSilently() throws Exception {
        Path cache = tmp.resolve("cache");
        Map<String, String> env = Map.of("XDG_CACHE_HOME", cache.toString());
        byte[] expected = direct("--version");
        launcher(env, "--version");
        Path archive = archivesAfterWriting(cache).get(0);
        // Damaged in place, with the jar's time kept: the launcher takes it, the JVM cannot map it.
        FileTime time = Files.getLastModifiedTime(archive);
        archive.toFile().setWritable(true);
        Files.write(archive, new byte[4096]);
        Files.setLastModifiedTime(archive, time);
        Run run = launcher(env, "--version");
        assertEquals(0, run.exit(), run.err());
        assertArrayEquals(expected, run.out());
        assertEquals("", run.err());
    }

    @Test
    void switchedOffItMakesNoArchive() throws Exception {
        Path cache = tmp.resolve("cache");
        Run run = launcher(Map.of("XDG_CACHE_HOME", cache.toString(), "KMODPACK_CDS", "0"), "--version");
        assertEquals(0, run.exit(), run.err());
        assertArrayEquals(direct("--version"), run.out());
        Thread.sleep(1000);
        assertTrue(!Files.exists(cache), "the cache was made: KMODPACK_CDS=0 should leave it alone");
    }

    @Test
    void aCacheThatCannotBeWrittenIsSkipped() throws Exception {
        // A file where the cache directory would be: nothing can be made, the command runs.
        Path cache = tmp.resolve("cache");
        Files.writeString(cache, "not a directory");
        Run run = launcher(Map.of("XDG_CACHE_HOME", cache.toString()), "--version");
        assertEquals(0, run.exit(), run.err());
        assertArrayEquals(direct("--version"), run.out());
        assertEquals("", run.err());
    }

    /**
     * The detached mount server's heap follows the header's block size (the largest of any
     * stream): a default image gets a heap for 256 KiB blocks, an image written before the field
     * was filled (0 there) the heap for the largest blocks allowed. A stand-in JVM records the
     * options the launcher gives it and reports the server ready.
     */
    @Test
    void mountServerHeapFollowsTheHeadersBlockSize() throws Exception {
        Path src = Files.createDirectories(tmp.resolve("tree/lib/modules/v/kernel"));
        Files.writeString(src.resolve("a.ko"), "module a");
        Path image = tmp.resolve("v.img");
        assertEquals(0, Kmodpack.run("build", "-b", tmp.resolve("tree").toString(), "-o", image.toString(), "v").exit());
        byte[] header = Files.readAllBytes(image);
        assertEquals(256 << 10, ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).getInt(Header.BLOCK_SIZE_AT));
        Path old = tmp.resolve("old.img");
        ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).putInt(Header.BLOCK_SIZE_AT, 0);
        Header.seal(header);
        Files.write(old, header);

        Path jdk = Files.createDirectories(tmp.resolve("stand-in-jdk/bin"));
        Path args = tmp.resolve("jvm-args");
        Files.writeString(jdk.resolve("java"), "#!/bin/sh\nprintf '%s\\n' \"$@\" >> \"" + args + "\"\necho kmodpack-server-ready\n");
        Files.setPosixFilePermissions(jdk.resolve("java"), java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Process nproc = new ProcessBuilder("nproc").start();
        int cores = Integer.parseInt(new String(nproc.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).trim());
        for (Path img : List.of(image, old)) {
            Files.deleteIfExists(args);
            Run run = launcher(Map.of("JAVA_HOME", jdk.getParent().toString()), "mount", img.toString(), tmp.resolve("mnt").toString());
            assertEquals(0, run.exit(), run.err());
            long blockSize = img == image ? 256 << 10 : 64 << 20;
            String xmx = "-Xmx" + kmodpack.fuse.Mounter.heapMegabytes(blockSize, cores) + "m";
            assertTrue(Files.readAllLines(args).contains(xmx), img + ": expected " + xmx + " in " + Files.readAllLines(args));
        }
    }
}

package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import kmodpack.testkit.KernelTrees;
import org.junit.jupiter.api.Assumptions;

/** Shared by the Mount*Test suites: images, mounting through the packaged tool, processes. */
final class MountSupport {
    private MountSupport() {
    }

    /** The suites need the FUSE device; only its absence skips them. */
    static void assumeFuse() {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "no /dev/fuse on this machine: mount suites skipped");
    }

    private static Path wholeTree;

    /**
     * An image of a whole real tree (kmod needs every index file), LZ4 at its fastest level so
     * that it builds in seconds; built once and kept in the build directory.
     */
    static synchronized Path wholeTreeImage(KernelTrees.Tree tree) throws Exception {
        if (wholeTree == null) {
            Path dir = Kmodpack.jar().getParent().resolve("e2e-images");
            Files.createDirectories(dir);
            Path img = dir.resolve("amd64-" + tree.version() + "-lz4.img");
            if (!Files.exists(img)) {
                Kmodpack.Result r = Kmodpack.run("build", "-b", tree.root().toString(), "-o", img.toString(),
                        "--codec", "lz4", "--level", "1", tree.version());
                assertEquals(0, r.exit(), r.toString());
            }
            wholeTree = img;
        }
        return wholeTree;
    }

    static Kmodpack.Result mount(Path image, Path mountPoint, String... extra) throws Exception {
        List<String> args = new ArrayList<>(List.of("mount"));
        args.addAll(List.of(extra));
        args.add(image.toString());
        args.add(mountPoint.toString());
        Kmodpack.Result r = Kmodpack.run(args.toArray(String[]::new));
        assertEquals(0, r.exit(), r.toString());
        assertEquals(true, isMounted(mountPoint), "mounted once the command returns");
        return r;
    }

    static Kmodpack.Result umount(Path mountPoint) throws Exception {
        Kmodpack.Result r = Kmodpack.run("umount", mountPoint.toString());
        assertEquals(0, r.exit(), r.toString());
        return r;
    }

    /** Last resort for a test that failed half-way: no mount may outlive the suite. */
    static void forceUnmount(Path mountPoint) {
        try {
            if (isMounted(mountPoint)) {
                run("fusermount", "-u", "-z", mountPoint.toString());
            }
        } catch (Exception e) {
            // nothing more to do
        }
    }

    static boolean isMounted(Path mountPoint) throws IOException {
        return mountType(mountPoint) != null;
    }

    /** The type the mount table gives this exact directory ("fuse.kmodpack"), or null. */
    static String mountType(Path mountPoint) throws IOException {
        Path abs = mountPoint.toAbsolutePath();
        String want;
        try {
            want = abs.toRealPath().toString();
        } catch (IOException e) {
            // a dead mount point cannot be resolved itself
            want = abs.getParent().toRealPath().resolve(abs.getFileName()).toString();
        }
        String type = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.ISO_8859_1)) {
            String[] f = line.split(" ");
            int dash = List.of(f).indexOf("-");
            if (f.length > 4 && dash > 0 && f[4].replace("\\040", " ").equals(want)) {
                type = f[dash + 1];
            }
        }
        return type;
    }

    /** The background server of a mount, found by its command line. */
    static Optional<ProcessHandle> server(Path mountPoint) {
        String mp = mountPoint.toString();
        return ProcessHandle.allProcesses()
                .filter(p -> p.info().arguments().map(a -> List.of(a).contains("--server") && List.of(a).contains(mp)).orElse(false))
                .findFirst();
    }

    static void awaitExit(ProcessHandle p, long seconds) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (p.isAlive() && System.nanoTime() < end) {
            Thread.sleep(50);
        }
    }

    record Cmd(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    static Cmd run(String... cmd) throws IOException, InterruptedException {
        return run(List.of(cmd), null);
    }

    static Cmd run(List<String> cmd, Path workDir) throws IOException, InterruptedException {
        Path out = Files.createTempFile("mount-out", "");
        Path err = Files.createTempFile("mount-err", "");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
            if (workDir != null) {
                pb.directory(workDir.toFile());
            }
            Process p = pb.start();
            p.getOutputStream().close();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish");
            }
            return new Cmd(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}

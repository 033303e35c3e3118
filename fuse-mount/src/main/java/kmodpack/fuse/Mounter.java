package kmodpack.fuse;

import java.io.IOException;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;

/**
 * {@code kmodpack mount}: checks, then serves in this process (foreground) or in a server
 * process that outlives the command (background).
 */
public final class Mounter {
    private Mounter() {
    }

    /** A mount that passed every check that can be made before mounting. */
    public record Plan(Path image, Path mountPoint, String libfuseOptions, MountOptions.Kernel kernelOptions,
                       String version, int blockSize, long joinBytes) {
        /** The heap the server of this plan needs (see {@link #heapMegabytes}). */
        public int heapMegabytes(int cores) {
            return Mounter.heapMegabytes(blockSize, cores) + (int) ((joinBytes + (1 << 20) - 1) >> 20);
        }
    }

    /**
     * The Java heap, in MiB, that serving an image of this block size needs: the index and
     * libfuse's buffers, the block cache (16 MiB, at least two blocks), and for each decoding
     * thread (one read-ahead thread per core, and the serving threads: {@link #servingThreads})
     * a block and the LZMA2 dictionary, which is as large as a block. bin/kmodpack computes the
     * same figure for the server it starts.
     */
    public static int heapMegabytes(long blockSize, int cores) {
        long mib = 1 << 20;
        long bytes = 64 * mib + Math.max(16 * mib, 2 * blockSize) + (cores + (long) servingThreads(cores)) * 2 * blockSize;
        return (int) ((bytes + mib - 1) / mib);
    }

    /**
     * The kernel-protocol server's serving threads: one per core, at least two (a thread waiting
     * on the device costs nothing, and a slow read then does not hold up a lookup).
     */
    static int servingThreads(int cores) {
        return Math.max(2, cores);
    }

    /**
     * Opens the image (checking its header and index), picks the mount point (default
     * /lib/modules/VERSION, created when missing, never outside /lib/modules), and checks the FUSE device, the mount point
     * and the options.
     */
    public static Plan plan(Path image, Path mountPoint, List<String> options) throws IOException {
        Path abs = image.toAbsolutePath().normalize();
        try (ModuleImage img = ModuleImage.open(abs)) {
            return plan(img, image, mountPoint, options);
        }
    }

    /**
     * Plans and serves (see {@link #serve}) with the image opened once: its index is most of a
     * server's own start. The libc binding starts meanwhile on another core.
     */
    public static int planAndServe(Path image, Path mountPoint, List<String> options, boolean multiThreaded, boolean daemon)
            throws IOException, InterruptedException {
        Thread jna = new Thread(LinuxCalls::getuid, "kmodpack-libc");
        jna.setDaemon(true);
        jna.start();
        ModuleImage img = ModuleImage.open(image.toAbsolutePath().normalize());
        Plan plan;
        try {
            plan = plan(img, image, mountPoint, options);
        } catch (IOException | RuntimeException e) {
            img.close();
            throw e;
        }
        return serve(plan, img, multiThreaded, daemon);
    }

    private static Plan plan(ModuleImage img, Path image, Path mountPoint, List<String> options) throws IOException {
        Path abs = img.file();
        String version = img.kernelVersion();
        int blockSize = img.largestBlockSize();
        long joinBytes = img.joinBytes();
        if (!Files.isRegularFile(abs)) {
            throw new MountException(image + ": not a regular file");
        }
        String libfuse = MountOptions.forLibfuse(options, abs);
        MountOptions.Kernel kernel = MountOptions.forKernel(options);
        Unmounter.checkFuseDevice();
        Path mp = mountPoint != null ? mountPoint : defaultMountPoint(Path.of(MODULES_ROOT), version);
        Path canonical = Unmounter.canonical(mp);
        Unmounter.checkMountPoint(canonical);
        return new Plan(abs, canonical, libfuse, kernel, version, blockSize, joinBytes);
    }

    /** Where kernels keep their module trees; the default mount point is a directory in it. */
    static final String MODULES_ROOT = "/lib/modules";

    /**
     * The default mount point, {@code modulesRoot/VERSION}, created when missing. The version
     * comes from the image: the reader already refuses one that is not a single name, and this
     * also refuses a mount point that resolves outside {@code modulesRoot} (a link planted there),
     * so an image never chooses where root mounts it. Only {@code VERSION} itself (and
     * {@code modulesRoot} on a system without one) is ever created.
     */
    static Path defaultMountPoint(Path modulesRoot, String version) throws IOException {
        Path mp = modulesRoot.resolve(version);
        if (version.isEmpty() || !mp.normalize().getParent().equals(modulesRoot.normalize())
                || mp.getFileName().toString().equals("..") || mp.getFileName().toString().equals(".")) {
            throw new MountException("the image's kernel version '" + version + "' is not a directory name under " + modulesRoot);
        }
        Files.createDirectories(modulesRoot);
        if (!Files.exists(mp, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectory(mp);
        }
        Path real = mp.toRealPath();
        Path realRoot = modulesRoot.toRealPath();
        if (!real.getParent().equals(realRoot)) {
            throw new MountException(mp + " resolves to " + real + ", outside " + modulesRoot + "; give the mount point explicitly");
        }
        return real;
    }

    /**
     * Mounts and serves until the file system is unmounted (kmodpack umount, fusermount -u,
     * SIGTERM or SIGINT). With {@code daemon}, this is the background server: it starts a
     * session of its own, reports ready to the command that started it, and logs to syslog.
     *
     * @return the exit status
     */
    private static int serve(Plan plan, ModuleImage img, boolean multiThreaded, boolean daemon) throws IOException, InterruptedException {
        Runnable awaitUnmount;
        try {
            if (daemon) {
                Background.detachSession();
            }
            SwitchableLog log = new SwitchableLog(ServerLog.to(System.err));
            boolean direct = plan.kernelOptions() != null && !LIBFUSE.equals(System.getenv(SERVER_SWITCH)) && FuseProtocol.mayMount();
            ImageView view = new ImageView(img, Files.size(plan.image()), log, Runtime.getRuntime().availableProcessors());
            awaitUnmount = null;
            if (direct) {
                int threads = servingThreads(Runtime.getRuntime().availableProcessors());
                try {
                    FuseProtocol server = FuseProtocol.start(view, plan.mountPoint(), plan.kernelOptions(), threads, log);
                    awaitUnmount = () -> await(server::awaitUnmount);
                } catch (FuseProtocol.NotPermitted e) {
                    // left to the libfuse server below
                }
            }
            if (awaitUnmount == null) {
                checkNameEncoding(img);
                awaitUnmount = LibfuseMount.start(view, plan, multiThreaded, log);
            }
            if (daemon) {
                log.target = ServerLog.syslog();
                Background.reportReady();
            }
            // Only now: loading them (lz4-java unpacks its library) took a core from the start.
            // Until they are in, blocks are decoded in Java.
            kmodpack.image.Codec.preferNativeDecodersSoon();
        } catch (IOException | RuntimeException e) {
            img.close();
            throw e;
        }
        awaitUnmount.run();
        return 0;
    }

    /**
     * {@code KMODPACK_FUSE=libfuse}: serve through libfuse (jnr-fuse) even where this process may
     * mount by itself, as processes that may not always do.
     */
    public static final String SERVER_SWITCH = "KMODPACK_FUSE";
    static final String LIBFUSE = "libfuse";

    interface Wait {
        void await() throws InterruptedException;
    }

    static void await(Wait w) {
        try {
            w.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The libfuse server, in a class of its own so that the kernel-protocol path never loads its binding. */
    private static final class LibfuseMount {
        static Runnable start(ImageView view, Plan plan, boolean multiThreaded, ServerLog log) throws MountException {
            ImageFs fs = new ImageFs(view);
            FuseServer server = FuseServer.start(fs, plan.mountPoint(), plan.libfuseOptions(), multiThreaded, log);
            return () -> await(server::awaitUnmount);
        }
    }

    /**
     * What a mount does before it mounts — the image's view, the kernel-protocol server's classes
     * and its libc binding — and nothing more: a class-data archive trained on it starts a mount
     * sooner.
     */
    public static void rehearse(Path image) throws IOException {
        try (ModuleImage img = ModuleImage.open(image)) {
            new ImageView(img, Files.size(image), ServerLog.to(new java.io.PrintStream(java.io.OutputStream.nullOutputStream())), 1);
            FuseProtocol.rehearse();
        }
    }

    /**
     * libfuse hands paths to Java as strings decoded with the JVM's default charset: anything
     * but UTF-8 loses non-ASCII names (JDK 17 under a C/POSIX locale decodes US-ASCII).
     */
    private static void checkNameEncoding(ModuleImage img) throws MountException {
        Charset cs = Charset.defaultCharset();
        if (cs.equals(StandardCharsets.UTF_8)) {
            return;
        }
        for (ImageEntry e : img.entries()) {
            for (int i = 0; i < e.name().length(); i++) {
                if (e.name().charAt(i) > 0x7f) {
                    throw new MountException("the image has non-ASCII names but this Java decodes names as " + cs
                            + ": run it with -Dfile.encoding=UTF-8 (bin/kmodpack does)");
                }
            }
        }
    }

    /** The background server's log moves from the pipe to syslog once it has detached. */
    private static final class SwitchableLog extends ServerLog {
        volatile ServerLog target;

        SwitchableLog(ServerLog first) {
            target = first;
        }

        @Override
        public void error(String message) {
            target.error(message);
        }

        @Override
        public void info(String message) {
            target.info(message);
        }
    }
}

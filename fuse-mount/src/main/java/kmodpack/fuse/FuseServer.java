package kmodpack.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;

/**
 * One mounted image: mounts through libfuse 2 step by step (fuse_mount, fuse_new, the loop),
 * reports ready only once the mount point answers, and unmounts on SIGTERM/SIGINT through a
 * shutdown hook (libfuse's own signal handlers are not installed: the JVM keeps its own).
 */
public final class FuseServer {
    private enum State { RUNNING, STOPPING, DONE }

    private final ImageFs fs;
    private final Path mountPoint;
    private final byte[] mountPointC;
    private final boolean multiThreaded;
    private final ServerLog log;
    private final CountDownLatch finished = new CountDownLatch(1);
    private Pointer channel;
    private Pointer fuse;
    private Pointer operationsMemory;
    private Thread loop;
    private volatile int loopResult;
    private State state = State.RUNNING;

    private FuseServer(ImageFs fs, Path mountPoint, boolean multiThreaded, ServerLog log) {
        this.fs = fs;
        this.mountPoint = mountPoint;
        this.mountPointC = Native.cString(mountPoint.toString());
        this.multiThreaded = multiThreaded;
        this.log = log;
    }

    /**
     * Mounts {@code fs} at {@code mountPoint} and starts serving; returns once the mount point
     * answers a stat with the image's root.
     *
     * @param libfuseOptions the -o argument (see {@link MountOptions#forLibfuse})
     */
    public static FuseServer start(ImageFs fs, Path mountPoint, String libfuseOptions, boolean multiThreaded,
                                   ServerLog log) throws MountException {
        FuseServer s = new FuseServer(fs, mountPoint, multiThreaded, log);
        s.mount(libfuseOptions);
        s.startLoop();
        MountProbe.awaitRoot(s.mountPoint);
        java.lang.Runtime.getRuntime().addShutdownHook(new Thread(s::stopOnSignal, "kmodpack-unmount"));
        return s;
    }

    private void mount(String options) throws MountException {
        Native.LibFuse lib = Native.fuse();
        Runtime rt = Native.runtime();
        // argv for libfuse's option parser: program name, -o, options. The strings and the array
        // are kept reachable here until fuse_new has copied what it needs.
        List<byte[]> argv = List.of(Native.cString(MountOptions.SUBTYPE), Native.cString("-o"), Native.cString(options));
        Pointer[] strings = new Pointer[argv.size()];
        Pointer array = Memory.allocateDirect(rt, (argv.size() + 1) * rt.addressSize(), true);
        for (int i = 0; i < strings.length; i++) {
            byte[] b = argv.get(i);
            strings[i] = Memory.allocateDirect(rt, b.length, true);
            strings[i].put(0, b, 0, b.length);
            array.putPointer((long) i * rt.addressSize(), strings[i]);
        }
        array.putAddress((long) argv.size() * rt.addressSize(), 0L);
        Native.FuseArgs args = new Native.FuseArgs(rt);
        Pointer argsMemory = Memory.allocateDirect(rt, Struct.size(args), true);
        args.useMemory(argsMemory);
        args.argc.set(argv.size());
        args.argv.set(array);
        args.allocated.set(0);

        StringBuilder err = new StringBuilder();
        channel = captureStderr(() -> lib.fuse_mount(mountPointC, args), err);
        if (channel == null) {
            lib.fuse_opt_free_args(args);
            throw new MountException("cannot mount " + fs.image().file() + " on " + mountPoint + ": "
                    + libfuseMessage(err, "the mount failed"));
        }
        Pointer ops = directCopy(rt, fs.operations());
        long f = captureStderr(() -> Native.fuseNew(channel.address(), argsMemory.address(), ops.address(), Struct.size(fs.operations())), err);
        fuse = f == 0 ? null : Pointer.wrap(rt, f);
        operationsMemory = ops;
        lib.fuse_opt_free_args(args);
        if (fuse == null) {
            lib.fuse_unmount(mountPointC, channel);
            channel = null;
            throw new MountException("cannot mount " + fs.image().file() + " on " + mountPoint + ": "
                    + libfuseMessage(err, "libfuse refused the options"));
        }
        // Keep the argument memory reachable up to here.
        java.lang.ref.Reference.reachabilityFence(strings);
        java.lang.ref.Reference.reachabilityFence(array);
    }

    /** The operations table in native memory (fuse_new copies it; it is kept anyway). */
    private static Pointer directCopy(Runtime rt, Struct s) {
        Pointer m = Struct.getMemory(s);
        if (m.isDirect()) {
            return m;
        }
        int size = Struct.size(s);
        Pointer d = Memory.allocateDirect(rt, size, true);
        byte[] b = new byte[size];
        m.get(0, b, 0, size);
        d.put(0, b, 0, size);
        return d;
    }

    /** libfuse and fusermount write their reasons to stderr: turn them into one line. */
    static String libfuseMessage(CharSequence stderr, String fallback) {
        StringBuilder out = new StringBuilder();
        for (String line : stderr.toString().split("\n")) {
            line = line.strip();
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("fuse: ")) {
                line = line.substring(6);
            }
            if (out.length() > 0) {
                out.append("; ");
            }
            out.append(line);
        }
        return out.length() == 0 ? fallback : out.toString();
    }

    /** Runs a native call with file descriptor 2 sent to a temporary file, and appends what it wrote. */
    private static <T> T captureStderr(Supplier<T> call, StringBuilder into) throws MountException {
        Native.LibC c = Native.libc();
        Path tmp;
        try {
            tmp = Files.createTempFile("kmodpack-mount", ".err");
        } catch (IOException e) {
            return call.get();
        }
        try {
            System.err.flush();
            int fd = c.open(tmp.toString(), 1 /* O_WRONLY */);
            int saved = fd < 0 ? -1 : c.dup(2);
            if (saved < 0) {
                if (fd >= 0) {
                    c.close(fd);
                }
                return call.get();
            }
            c.dup2(fd, 2);
            c.close(fd);
            try {
                return call.get();
            } finally {
                c.dup2(saved, 2);
                c.close(saved);
                try {
                    into.append(Files.readString(tmp, StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // nothing captured
                }
            }
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException e) {
                // a temporary file left behind
            }
        }
    }

    private void startLoop() {
        Native.LibFuse lib = Native.fuse();
        Pointer f = fuse;
        loop = new Thread(() -> {
            try {
                loopResult = multiThreaded ? lib.fuse_loop_mt(f) : lib.fuse_loop(f);
            } finally {
                finish();
            }
        }, "kmodpack-fuse");
        loop.start();
    }

    /** After the loop: let go of the mount (a no-op when it is already gone) and of libfuse. */
    private void finish() {
        Native.LibFuse lib = Native.fuse();
        synchronized (this) {
            state = State.DONE;
            lib.fuse_unmount(mountPointC, channel);
            lib.fuse_destroy(fuse);
            channel = null;
            fuse = null;
        }
        try {
            fs.image().close();
        } catch (IOException e) {
            // closing a read-only file
        }
        finished.countDown();
    }

    /** Blocks until the file system is unmounted (by umount, fusermount -u or a signal). */
    public int awaitUnmount() throws InterruptedException {
        finished.await();
        return loopResult;
    }

    public Path mountPoint() {
        return mountPoint;
    }

    /** SIGTERM / SIGINT: leave the loop and detach the mount so that no dead mount stays behind. */
    private void stopOnSignal() {
        synchronized (this) {
            if (state != State.RUNNING) {
                return;
            }
            state = State.STOPPING;
            Native.fuse().fuse_exit(fuse);
        }
        try {
            Unmounter.detach(mountPoint, fs.image().file().toString());
        } catch (IOException e) {
            log.error(mountPoint + ": " + e.getMessage());
        }
        try {
            finished.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

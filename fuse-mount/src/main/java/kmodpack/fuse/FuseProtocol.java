package kmodpack.fuse;

import static kmodpack.fuse.FuseKernel.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;

/**
 * A mounted image served by speaking the FUSE kernel protocol on /dev/fuse directly, as libfuse
 * does underneath, for a process that may mount (root, CAP_SYS_ADMIN): it opens the device,
 * mounts with mount(2) and answers each request from {@link ImageView}. Starting it loads no
 * libfuse binding, which was most of a mount's start-up. Requests are served by several threads
 * reading the same device; the kernel hands each request to one of them.
 */
final class FuseProtocol {
    /** The image never changes while mounted: names, attributes and misses are cached for a day. */
    private static final long TIMEOUT_SECONDS = Long.parseLong(MountOptions.TIMEOUT);
    /** Reads never exceed 32 pages (FUSE_MAX_PAGES is not negotiated), nor do directory replies. */
    private static final int MAX_REPLY = 128 << 10;
    private static final int REQUEST_BUFFER = MIN_READ_BUFFER + 4096;
    private static final int EPERM = 1;
    private static final int ENOENT = 2;
    private static final int EIO = 5;
    private static final int ENOTDIR = 20;
    private static final int EISDIR = 21;
    private static final int EINVAL = 22;
    private static final int EROFS = 30;
    private static final int ERANGE = 34;
    private static final int ENOSYS = 38;
    private static final int ENODATA = 61;
    private static final int O_ACCMODE = 3;
    private static final int O_TRUNC = 01000;
    private static final int W_OK = 2;
    private static final byte[] DOT = {'.'};
    private static final byte[] DOTDOT = {'.', '.'};

    private enum State { RUNNING, STOPPING, DONE }

    private final ImageView view;
    private final ModuleImage image;
    private final Path mountPoint;
    private final String source;
    private final ServerLog log;
    private final int fd;
    private final CountDownLatch finished = new CountDownLatch(1);
    private final AtomicInteger running = new AtomicInteger();
    private State state = State.RUNNING;

    private FuseProtocol(ImageView view, Path mountPoint, String source, int fd, ServerLog log) {
        this.view = view;
        this.image = view.image;
        this.mountPoint = mountPoint;
        this.source = source;
        this.fd = fd;
        this.log = log;
    }

    /**
     * Mounts the image at {@code mountPoint} and serves it on {@code threads} threads; returns
     * once the mount point answers a stat with the image's root.
     */
    static FuseProtocol start(ImageView view, Path mountPoint, MountOptions.Kernel options, int threads, ServerLog log)
            throws MountException {
        String source = view.image.file().toString();
        if (!options.nonempty()) {
            checkEmpty(mountPoint, source);
        }
        int fd;
        try {
            fd = LinuxCalls.open(LinuxCalls.cString("/dev/fuse"), LinuxCalls.O_RDWR | LinuxCalls.O_CLOEXEC);
        } catch (LastErrorException e) {
            throw new MountException("cannot open /dev/fuse: " + LinuxCalls.message(e.getErrorCode()));
        }
        String data = "fd=" + fd + ",rootmode=40000,user_id=" + LinuxCalls.getuid() + ",group_id=" + LinuxCalls.getgid()
                + options.data();
        try {
            LinuxCalls.mount(LinuxCalls.cString(source), LinuxCalls.cString(mountPoint.toString()),
                    LinuxCalls.cString(MountOptions.TYPE), options.flags(), LinuxCalls.cString(data));
        } catch (LastErrorException e) {
            LinuxCalls.close(fd);
            String why = "cannot mount " + source + " on " + mountPoint + ": " + LinuxCalls.message(e.getErrorCode());
            throw e.getErrorCode() == EPERM ? new NotPermitted(why) : new MountException(why);
        }
        FuseProtocol s = new FuseProtocol(view, mountPoint, source, fd, log);
        s.running.set(threads);
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(s::serve, "kmodpack-fuse-" + i);
            t.setDaemon(true);
            t.start();
        }
        try {
            MountProbe.awaitRoot(s.mountPoint);
        } catch (MountException e) {
            // No mount that does not answer stays behind: its serving threads then end.
            try {
                LinuxCalls.umount2(LinuxCalls.cString(mountPoint.toString()), LinuxCalls.MNT_DETACH);
            } catch (LastErrorException gone) {
                // already unmounted
            }
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(s::stopOnSignal, "kmodpack-unmount"));
        return s;
    }

    /** mount(2) refused with EPERM (root without CAP_SYS_ADMIN, as in some containers): libfuse's setuid helper may still mount. */
    static final class NotPermitted extends MountException {
        NotPermitted(String message) {
            super(message);
        }
    }

    /** For class-data archives: the classes and binding a start uses, without mounting anything. */
    static void rehearse() {
        mayMount();
        ByteBuffer b = ByteBuffer.allocateDirect(OUT_BODY + ENTRY_SIZE).order(ByteOrder.nativeOrder());
        Native.getDirectBufferPointer(b);
        error(b, ENOENT);
    }

    /**
     * Whether mount(2) is worth trying: root may mount a FUSE file system itself (where it lacks
     * CAP_SYS_ADMIN, mount(2) says so and the libfuse server takes over); other users go through
     * libfuse's setuid fusermount.
     */
    static boolean mayMount() {
        return LinuxCalls.getuid() == 0;
    }

    /** As libfuse: a mount would hide what the directory holds, so it must be asked for (-o nonempty). */
    private static void checkEmpty(Path mountPoint, String source) throws MountException {
        try (var d = Files.newDirectoryStream(mountPoint)) {
            if (d.iterator().hasNext()) {
                throw new MountException("cannot mount " + source + " on " + mountPoint
                        + ": mountpoint is not empty; if you are sure this is safe, use the 'nonempty' mount option");
            }
        } catch (IOException e) {
            if (e instanceof MountException m) {
                throw m;
            }
            throw new MountException(mountPoint + ": " + e.getMessage());
        }
    }

    /** One serving thread: read a request, answer it, until the file system is unmounted. */
    private void serve() {
        ByteBuffer in = ByteBuffer.allocateDirect(REQUEST_BUFFER).order(ByteOrder.nativeOrder());
        ByteBuffer out = ByteBuffer.allocateDirect(OUT_BODY + MAX_REPLY).order(ByteOrder.nativeOrder());
        Pointer inAddress = Native.getDirectBufferPointer(in);
        Pointer outAddress = Native.getDirectBufferPointer(out);
        byte[] data = new byte[MAX_REPLY];
        try {
            for (;;) {
                long n;
                try {
                    n = LinuxCalls.read(fd, inAddress, REQUEST_BUFFER);
                } catch (LastErrorException e) {
                    int errno = e.getErrorCode();
                    if (errno == LinuxCalls.EINTR || errno == LinuxCalls.EAGAIN || errno == LinuxCalls.ENOENT) {
                        continue;   // a signal, or a request interrupted before it was read
                    }
                    if (errno != LinuxCalls.ENODEV) {
                        log.error(mountPoint + ": reading /dev/fuse: " + LinuxCalls.message(errno));
                    }
                    return;         // ENODEV: unmounted
                }
                if (n < IN_BODY) {
                    continue;
                }
                int replyLength;
                try {
                    replyLength = answer(in, out, data);
                } catch (RuntimeException e) {
                    // A request this server cannot make sense of fails alone; the others go on.
                    log.error(mountPoint + ": request " + in.getInt(IN_OPCODE) + " failed: " + e);
                    replyLength = error(out, EIO);
                }
                if (replyLength > 0) {
                    out.putInt(OUT_LEN, replyLength);
                    out.putLong(OUT_UNIQUE, in.getLong(IN_UNIQUE));
                    try {
                        LinuxCalls.write(fd, outAddress, replyLength);
                    } catch (LastErrorException e) {
                        // ENOENT: the request was interrupted and is gone; nothing to do either way
                    }
                }
                if (in.getInt(IN_OPCODE) == DESTROY) {
                    return;
                }
            }
        } finally {
            if (running.decrementAndGet() == 0) {
                finish();
            }
        }
    }

    /** The last serving thread out: let go of the device and the image. */
    private void finish() {
        synchronized (this) {
            state = State.DONE;
        }
        LinuxCalls.close(fd);
        try {
            image.close();
        } catch (IOException e) {
            // closing a read-only file
        }
        finished.countDown();
    }

    /**
     * Writes the reply to the request in {@code in} into {@code out} (its header's error field
     * and body; length and unique are filled by the caller).
     *
     * @return the reply's length, or 0 for requests that get none (FORGET, INTERRUPT)
     */
    private int answer(ByteBuffer in, ByteBuffer out, byte[] data) {
        int opcode = in.getInt(IN_OPCODE);
        long node = in.getLong(IN_NODEID);
        out.putInt(OUT_ERROR, 0);
        switch (opcode) {
            case INIT:
                return init(in, out);
            case FORGET, BATCH_FORGET, INTERRUPT:
                // Nothing is kept per lookup (every node lives as long as the image); an
                // interrupted request is answered anyway, as quickly as it would have been.
                return 0;
            case DESTROY, RELEASE, RELEASEDIR, FLUSH, FSYNC, FSYNCDIR:
                return OUT_BODY;
            case SETATTR, SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME, LINK, WRITE, SETXATTR, REMOVEXATTR,
                    CREATE, FALLOCATE, RENAME2, COPY_FILE_RANGE, TMPFILE:
                return error(out, EROFS);
            case STATFS:
                return statfs(out);
            default:
                break;
        }
        ImageEntry e = image.entry(node);
        if (e == null) {
            return opcode == LOOKUP || opcode == GETATTR || opcode == OPEN || opcode == OPENDIR || opcode == READ
                    || opcode == READDIR || opcode == READDIRPLUS || opcode == READLINK || opcode == ACCESS
                    || opcode == GETXATTR || opcode == LISTXATTR ? error(out, ENOENT) : error(out, ENOSYS);
        }
        switch (opcode) {
            case LOOKUP:
                return lookup(in, out, e);
            case GETATTR:
                out.putLong(OUT_BODY + ATTR_OUT_VALID, TIMEOUT_SECONDS);
                out.putInt(OUT_BODY + ATTR_OUT_VALID_NSEC, 0);
                out.putInt(OUT_BODY + ATTR_OUT_VALID_NSEC + 4, 0);
                putAttr(out, OUT_BODY + ATTR_OUT_ATTR, e, view.nlink(e));
                return OUT_BODY + ATTR_OUT_SIZE;
            case READLINK:
                return readlink(out, e);
            case OPEN:
                return open(in, out, e);
            case READ:
                return read(in, out, e, data);
            case OPENDIR:
                if (!e.isDirectory()) {
                    return error(out, ENOTDIR);
                }
                // Listings never change: the kernel may keep them as it keeps file pages.
                return opened(out, e, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR);
            case READDIR:
                return readdir(in, out, e, false);
            case READDIRPLUS:
                return readdir(in, out, e, true);
            case ACCESS:
                return (in.getInt(IN_BODY + ACCESS_IN_MASK) & W_OK) != 0 ? error(out, EROFS) : OUT_BODY;
            case GETXATTR:
                return error(out, ENODATA);
            case LISTXATTR:
                // No attributes: an empty list (its size, 0, when only the size is asked).
                if (in.getInt(IN_BODY + GETXATTR_IN_SIZE) == 0) {
                    out.putLong(OUT_BODY, 0);
                    return OUT_BODY + GETXATTR_OUT_SIZE;
                }
                return OUT_BODY;
            default:
                return error(out, ENOSYS);
        }
    }

    private static int error(ByteBuffer out, int errno) {
        out.putInt(OUT_ERROR, -errno);
        return OUT_BODY;
    }

    /**
     * INIT: the protocol minor is the lower of the kernel's and ours; flags are those of ours
     * the kernel offers. Read-ahead as large as the kernel allows; writes never come.
     */
    private int init(ByteBuffer in, ByteBuffer out) {
        int major = in.getInt(IN_BODY + INIT_MAJOR);
        int minor = in.getInt(IN_BODY + INIT_MINOR);
        for (int i = 0; i < INIT_OUT_SIZE; i += 4) {
            out.putInt(OUT_BODY + i, 0);
        }
        out.putInt(OUT_BODY + INIT_MAJOR, KERNEL_VERSION);
        if (major != KERNEL_VERSION) {
            // A newer major: the kernel asks again with ours; an older one cannot be served.
            return major > KERNEL_VERSION ? OUT_BODY + 8 : error(out, EPERM);
        }
        int wanted = ASYNC_READ | DO_READDIRPLUS | READDIRPLUS_AUTO | PARALLEL_DIROPS | CACHE_SYMLINKS;
        out.putInt(OUT_BODY + INIT_MINOR, Math.min(minor, KERNEL_MINOR));
        out.putInt(OUT_BODY + INIT_MAX_READAHEAD, in.getInt(IN_BODY + INIT_MAX_READAHEAD));
        out.putInt(OUT_BODY + INIT_FLAGS, in.getInt(IN_BODY + INIT_FLAGS) & wanted);
        out.putInt(OUT_BODY + INIT_OUT_MAX_WRITE, 4096);
        out.putInt(OUT_BODY + INIT_OUT_TIME_GRAN, 1);
        // Kernels before 7.23 expect the record as it was then, and refuse a longer one.
        return OUT_BODY + (minor < 5 ? 8 : minor < 23 ? 24 : INIT_OUT_SIZE);
    }

    /** The name in a request: NUL-terminated after the header and {@code skip} bytes of record. */
    private static String name(ByteBuffer in, int skip) {
        int from = IN_BODY + skip;
        int end = from;
        int limit = in.getInt(IN_LEN);
        while (end < limit && in.get(end) != 0) {
            end++;
        }
        byte[] b = new byte[end - from];
        in.get(from, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private int lookup(ByteBuffer in, ByteBuffer out, ImageEntry dir) {
        if (!dir.isDirectory()) {
            return error(out, ENOTDIR);
        }
        String name = name(in, 0);
        ImageEntry e = name.equals(".") ? dir : name.equals("..") ? image.parent(dir) : image.child(dir, name);
        // A miss is answered as an entry with node 0: the kernel caches the absence, as libfuse's
        // negative_timeout made it do.
        putEntry(out, OUT_BODY, e, e == null ? 0 : view.nlink(e), TIMEOUT_SECONDS);
        return OUT_BODY + ENTRY_SIZE;
    }

    private int readlink(ByteBuffer out, ImageEntry e) {
        if (!e.isSymlink()) {
            return error(out, EINVAL);
        }
        byte[] target = view.readlink(e);
        if (target == null) {
            return error(out, EIO);
        }
        if (target.length > MAX_REPLY) {
            return error(out, ERANGE);
        }
        out.put(OUT_BODY, target);
        return OUT_BODY + target.length;
    }

    private int open(ByteBuffer in, ByteBuffer out, ImageEntry e) {
        int flags = in.getInt(IN_BODY + OPEN_IN_FLAGS);
        if ((flags & O_ACCMODE) != 0 || (flags & O_TRUNC) != 0) {
            return error(out, EROFS);
        }
        if (e.isDirectory()) {
            return error(out, EISDIR);
        }
        view.opened(e);
        // kernel_cache: the image never changes, so pages cached at an earlier open stay valid.
        return opened(out, e, FOPEN_KEEP_CACHE);
    }

    private static int opened(ByteBuffer out, ImageEntry e, int openFlags) {
        out.putLong(OUT_BODY + OPEN_OUT_FH, e.inode());
        out.putInt(OUT_BODY + OPEN_OUT_FLAGS, openFlags);
        out.putInt(OUT_BODY + OPEN_OUT_FLAGS + 4, 0);
        return OUT_BODY + OPEN_OUT_SIZE;
    }

    private int read(ByteBuffer in, ByteBuffer out, ImageEntry e, byte[] data) {
        if (!e.isRegularFile()) {
            return error(out, EISDIR);
        }
        long offset = in.getLong(IN_BODY + READ_IN_OFFSET);
        int size = Math.min(in.getInt(IN_BODY + READ_IN_SIZE), MAX_REPLY);
        if (offset < 0 || size < 0) {
            return error(out, EINVAL);
        }
        int want = (int) Math.min(size, Math.max(0, e.size() - offset));
        if (want == 0) {
            return OUT_BODY;
        }
        int n = view.read(e, offset, data, want);
        if (n < 0) {
            return error(out, EIO);
        }
        out.put(OUT_BODY, data, 0, n);
        return OUT_BODY + n;
    }

    /**
     * READDIR / READDIRPLUS: ".", "..", then the children in the image's order; an entry's
     * offset is its position in that list, so a listing resumes where the last reply ended.
     */
    private int readdir(ByteBuffer in, ByteBuffer out, ImageEntry dir, boolean plus) {
        if (!dir.isDirectory()) {
            return error(out, ENOTDIR);
        }
        long offset = in.getLong(IN_BODY + READ_IN_OFFSET);
        int size = Math.min(in.getInt(IN_BODY + READ_IN_SIZE), MAX_REPLY);
        List<ImageEntry> children = image.list(dir);
        int at = OUT_BODY;
        int end = OUT_BODY + size;
        for (long i = Math.max(0, offset); i < children.size() + 2; i++) {
            ImageEntry e = i == 0 ? dir : i == 1 ? image.parent(dir) : children.get((int) (i - 2));
            byte[] name = i == 0 ? DOT : i == 1 ? DOTDOT : image.nameBytes(e);
            int need = direntSize(name.length) + (plus ? ENTRY_SIZE : 0);
            if (at + need > end) {
                break;
            }
            if (plus) {
                // "." and ".." carry no entry (node 0): the kernel looks nothing up for them.
                boolean child = i >= 2;
                putEntry(out, at, child ? e : null, child ? view.nlink(e) : 0, child ? TIMEOUT_SECONDS : 0);
                at += ENTRY_SIZE;
            }
            at += putDirent(out, at, e.inode(), i + 1, e.mode(), name);
        }
        return at;
    }

    private int statfs(ByteBuffer out) {
        long bs = ImageView.STATFS_BLOCK;
        for (int i = 0; i < STATFS_SIZE; i += 8) {
            out.putLong(OUT_BODY + i, 0);
        }
        out.putLong(OUT_BODY + STATFS_BLOCKS, (view.imageFileSize + bs - 1) / bs);
        out.putLong(OUT_BODY + STATFS_FILES, image.entryCount());
        out.putInt(OUT_BODY + STATFS_BSIZE, (int) bs);
        out.putInt(OUT_BODY + STATFS_NAMELEN, 255);
        out.putInt(OUT_BODY + STATFS_FRSIZE, (int) bs);
        return OUT_BODY + STATFS_SIZE;
    }

    /** Blocks until the file system is unmounted (by umount, fusermount -u or a signal). */
    void awaitUnmount() throws InterruptedException {
        finished.await();
    }

    /**
     * SIGTERM / SIGINT: detach the mount if it is still this image's, so that no dead mount stays
     * behind; the serving threads then read ENODEV and end (or, with files still open, once the
     * last one is closed, as a lazy unmount does).
     */
    private void stopOnSignal() {
        synchronized (this) {
            if (state != State.RUNNING) {
                return;
            }
            state = State.STOPPING;
        }
        try {
            MountTable.Mount m = MountTable.at(mountPoint);
            if (m != null && m.isKmodpack() && m.source().equals(source)) {
                LinuxCalls.umount2(LinuxCalls.cString(mountPoint.toString()), LinuxCalls.MNT_DETACH);
            }
        } catch (IOException | LastErrorException e) {
            log.error(mountPoint + ": cannot unmount: " + e.getMessage());
        }
        try {
            finished.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

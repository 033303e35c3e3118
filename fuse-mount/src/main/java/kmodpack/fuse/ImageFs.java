package kmodpack.fuse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.types.dev_t;
import jnr.ffi.types.gid_t;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.uid_t;
import kmodpack.image.ImageEntry;
import kmodpack.image.ImageException;
import kmodpack.image.ModuleImage;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The image as a read-only FUSE file system (libfuse 2's path-based operations). Stat answers
 * come from the image's index (mode, owner, size, mtime to the nanosecond, inode = entry inode);
 * reads come from the shared, thread-safe reader. Every write operation answers EROFS. A read
 * that meets a damaged block answers EIO; each damaged block is logged once.
 */
public final class ImageFs extends FuseStubFS {
    private static final int O_ACCMODE = 3;
    private static final int O_RDONLY = 0;
    private static final int O_TRUNC = 01000;
    /** libfuse 2 never asks for more than 128 KiB in one read. */
    private static final int MAX_READ = 128 << 10;
    private static final int STATFS_BLOCK = 4096;

    private final ModuleImage image;
    private final long imageFileSize;
    private final ServerLog log;
    private final Map<String, ImageEntry> byPath;
    /**
     * Per entry (by index = inode - 1): link count, and the name NUL-terminated in native memory
     * for readdir (a direct buffer is passed to libfuse by address, without a copy).
     */
    private final int[] nlink;
    private final ByteBuffer[] names;
    private final ThreadLocal<FileStat> dirStat = ThreadLocal.withInitial(() -> {
        FileStat st = new FileStat(jnr.ffi.Runtime.getSystemRuntime());
        st.useMemory(jnr.ffi.Memory.allocateDirect(jnr.ffi.Runtime.getSystemRuntime(), Struct.size(st), true));
        return st;
    });
    private final Set<String> reported = ConcurrentHashMap.newKeySet();
    private final ThreadLocal<byte[]> buffers = ThreadLocal.withInitial(() -> new byte[MAX_READ]);
    /**
     * Read-ahead: once reads have gone forward through the data for a while, the next blocks of
     * the image (data order is the tree's depth-first order, which is how tar, cp -r and
     * find|xargs walk it) are decoded on spare threads, one per core, so that a sequential
     * reader finds them ready. Random readers (modinfo, modprobe: a module here, a module there)
     * get none: decoding blocks nobody reads would take the cores their own reads need.
     */
    private final ExecutorService readAhead;
    private final int readAheadBlocks;
    private final Set<Integer> queued = ConcurrentHashMap.newKeySet();
    /** How far a run of reads must have gone forward before blocks past it are decoded ahead. */
    static final long SEQUENTIAL_AFTER = 256 << 10;
    /** The last read (guarded by itself): which file, where it ended, in which block, and the run so far. */
    private final long[] last = {-1, 0, 0, -1, 0};
    private static final int LAST_INODE = 0;
    private static final int LAST_END = 1;
    private static final int LAST_SIZE = 2;
    private static final int LAST_BLOCK = 3;
    private static final int RUN = 4;

    private final ByteBuffer dot;
    private final ByteBuffer dotdot;

    public ImageFs(ModuleImage image, long imageFileSize, ServerLog log) {
        this(image, imageFileSize, log, Runtime.getRuntime().availableProcessors());
    }

    /** @param readAheadBlocks how many blocks past each read to decode ahead (0: none) */
    public ImageFs(ModuleImage image, long imageFileSize, ServerLog log, int readAheadBlocks) {
        this.image = image;
        this.readAheadBlocks = readAheadBlocks;
        this.readAhead = readAheadBlocks == 0 ? null : Executors.newFixedThreadPool(readAheadBlocks, r -> {
            Thread t = new Thread(r, "kmodpack-read-ahead");
            t.setDaemon(true);
            return t;
        });
        this.imageFileSize = imageFileSize;
        this.log = log;
        List<ImageEntry> all = image.entries();
        int n = all.size();
        byPath = new HashMap<>(n * 2);
        nlink = new int[n];
        names = new ByteBuffer[n];
        String[] paths = new String[n];
        byte[][] raw = new byte[n][];
        int total = 5;
        for (ImageEntry e : all) {
            int i = index(e);
            if (e.isRoot()) {
                paths[i] = "/";
            } else {
                String parent = paths[index(image.parent(e))];
                paths[i] = parent.length() == 1 ? "/" + e.name() : parent + "/" + e.name();
                if (e.isDirectory()) {
                    nlink[index(image.parent(e))]++;
                }
            }
            raw[i] = Native.cString(e.name());
            total += raw[i].length;
            byPath.put(paths[i], e);
        }
        ByteBuffer all0 = ByteBuffer.allocateDirect(total);
        dot = slice(all0, Native.cString("."));
        dotdot = slice(all0, Native.cString(".."));
        for (int i = 0; i < n; i++) {
            names[i] = slice(all0, raw[i]);
        }
        for (ImageEntry e : all) {
            // A directory: its own name, ".", and each subdirectory's ".."; anything else: one.
            nlink[index(e)] = e.isDirectory() ? nlink[index(e)] + 2 : 1;
        }
    }

    private static ByteBuffer slice(ByteBuffer all, byte[] bytes) {
        int at = all.position();
        all.put(bytes);
        return all.duplicate().position(at).limit(at + bytes.length).slice();
    }

    private static int index(ImageEntry e) {
        return (int) (e.inode() - 1);
    }

    /** The operations table handed to fuse_new. */
    ru.serce.jnrfuse.struct.FuseOperations operations() {
        return fuseOperations;
    }

    public ModuleImage image() {
        return image;
    }

    /** The entry for a FUSE path ("/" for the root), or null. */
    ImageEntry entry(String path) {
        return byPath.get(path);
    }

    @Override
    public int getattr(String path, FileStat stat) {
        ImageEntry e = byPath.get(path);
        if (e == null) {
            return -ErrorCodes.ENOENT();
        }
        fill(e, stat);
        return 0;
    }

    private void fill(ImageEntry e, FileStat st) {
        st.st_mode.set(e.mode());
        st.st_ino.set(e.inode());
        st.st_nlink.set(nlink[index(e)]);
        st.st_uid.set(e.uid());
        st.st_gid.set(e.gid());
        st.st_size.set(e.size());
        st.st_blocks.set((e.size() + 511) / 512);
        st.st_blksize.set(STATFS_BLOCK);
        setTime(st.st_mtim, e);
        setTime(st.st_atim, e);
        setTime(st.st_ctim, e);
    }

    private static void setTime(Timespec t, ImageEntry e) {
        t.tv_sec.set(e.mtimeSeconds());
        t.tv_nsec.set(e.mtimeNanos());
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filler, @off_t long offset, FuseFileInfo fi) {
        ImageEntry dir = byPath.get(path);
        if (dir == null) {
            return -ErrorCodes.ENOENT();
        }
        if (!dir.isDirectory()) {
            return -ErrorCodes.ENOTDIR();
        }
        // With use_ino, libfuse passes the stat's inode and type on as d_ino and d_type.
        FileStat st = dirStat.get();
        Pointer stp = Struct.getMemory(st);
        st.st_ino.set(dir.inode());
        st.st_mode.set(dir.mode());
        filler.apply(buf, dot, stp, 0);
        ImageEntry parent = image.parent(dir);
        st.st_ino.set(parent.inode());
        st.st_mode.set(parent.mode());
        filler.apply(buf, dotdot, stp, 0);
        for (ImageEntry c : image.list(dir)) {
            st.st_ino.set(c.inode());
            st.st_mode.set(c.mode());
            if (filler.apply(buf, names[index(c)], stp, 0) != 0) {
                return -ErrorCodes.ENOMEM();
            }
        }
        return 0;
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        ImageEntry e = byPath.get(path);
        if (e == null) {
            return -ErrorCodes.ENOENT();
        }
        int flags = fi.flags.get();
        if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) {
            return -ErrorCodes.EROFS();
        }
        if (e.isDirectory()) {
            return -ErrorCodes.EISDIR();
        }
        fi.fh.set(e.inode());
        // A file over several blocks: its last block is decoded now on a spare core, while the
        // caller's first read decodes the first one. Readers of a module want both ends at least
        // (ELF header, section headers and signature at the end).
        int[] blocks = readAhead == null ? null : image.blocksOf(e);
        if (blocks != null && blocks.length > 1) {
            decodeAhead(blocks[blocks.length - 1]);
        }
        return 0;
    }

    @Override
    public int read(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        ImageEntry e = image.entry(fi.fh.get());
        if (e == null || !e.isRegularFile()) {
            e = byPath.get(path);
            if (e == null) {
                return -ErrorCodes.ENOENT();
            }
            if (!e.isRegularFile()) {
                return -ErrorCodes.EISDIR();
            }
        }
        if (offset < 0 || size < 0) {
            return -ErrorCodes.EINVAL();
        }
        int want = (int) Math.min(size, Math.max(0, e.size() - offset));
        if (want == 0) {
            return 0;
        }
        byte[] tmp = buffers.get();
        if (tmp.length < want) {
            tmp = new byte[want];
            buffers.set(tmp);
        }
        try {
            int n = image.read(e, offset, tmp, 0, want);
            buf.put(0, tmp, 0, n);
            if (readAhead != null && goesForward(e, offset, n)) {
                readAheadAfter(image.blockOf(e, offset + n - 1));
            }
            return n;
        } catch (IOException | RuntimeException ex) {
            report(ex);
            return -ErrorCodes.EIO();
        }
    }

    /**
     * Records a read and says whether it belongs to a forward run of at least
     * {@link #SEQUENTIAL_AFTER} bytes: each read continuing the previous one in the same file, or
     * starting the next file in data order (offset 0, the previous file read to its end, in the
     * same block or the next).
     */
    boolean goesForward(ImageEntry e, long offset, int n) {
        int first = image.blockOf(e, offset);
        synchronized (last) {
            boolean continues = e.inode() == last[LAST_INODE] ? offset == last[LAST_END]
                    : offset == 0 && last[LAST_END] == last[LAST_SIZE] && (first == last[LAST_BLOCK] || first == last[LAST_BLOCK] + 1);
            last[RUN] = continues ? last[RUN] + n : n;
            last[LAST_INODE] = e.inode();
            last[LAST_END] = offset + n;
            last[LAST_SIZE] = e.size();
            last[LAST_BLOCK] = image.blockOf(e, offset + n - 1);
            return last[RUN] >= SEQUENTIAL_AFTER;
        }
    }

    private void readAheadAfter(int block) {
        if (block < 0) {
            return;     // the file's bytes do not follow one run of blocks: nothing to read ahead
        }
        for (int b = block + 1; b <= block + readAheadBlocks && b < image.blockCount(); b++) {
            decodeAhead(b);
        }
    }

    /** Decodes a block into the reader's cache on a spare thread unless it is there or queued. */
    private void decodeAhead(int b) {
        if (!image.isCached(b) && queued.add(b)) {
            readAhead.execute(() -> {
                try {
                    image.preload(b);
                } finally {
                    queued.remove(b);
                }
            });
        }
    }

    /** Logs a failed read once per cause (a damaged block is named once, whichever file met it first). */
    private void report(Exception ex) {
        Throwable cause = ex instanceof ImageException && ex.getCause() instanceof ImageException ? ex.getCause() : ex;
        String key = String.valueOf(cause.getMessage());
        if (reported.add(key)) {
            String what = ex instanceof ImageException ? ex.getMessage() : ex.toString();
            log.error(image.file() + ": " + what + "; reads that need it fail with EIO (logged once)");
        }
    }

    @Override
    public int readlink(String path, Pointer buf, @size_t long size) {
        ImageEntry e = byPath.get(path);
        if (e == null) {
            return -ErrorCodes.ENOENT();
        }
        if (!e.isSymlink()) {
            return -ErrorCodes.EINVAL();
        }
        if (size <= 0) {
            return -ErrorCodes.EINVAL();
        }
        try {
            byte[] target = image.readlinkBytes(e);
            int n = (int) Math.min(target.length, size - 1);
            buf.put(0, target, 0, n);
            buf.putByte(n, (byte) 0);
            return 0;
        } catch (IOException | RuntimeException ex) {
            // Whatever the reader meets, the caller gets EIO: nothing unchecked reaches jnr-fuse.
            report(ex);
            return -ErrorCodes.EIO();
        }
    }

    @Override
    public int statfs(String path, Statvfs st) {
        st.f_bsize.set(STATFS_BLOCK);
        st.f_frsize.set(STATFS_BLOCK);
        st.f_blocks.set((imageFileSize + STATFS_BLOCK - 1) / STATFS_BLOCK);
        st.f_bfree.set(0);
        st.f_bavail.set(0);
        st.f_files.set(image.entryCount());
        st.f_ffree.set(0);
        st.f_favail.set(0);
        st.f_flag.set(Statvfs.ST_RDONLY);
        st.f_namemax.set(255);
        return 0;
    }

    // ---- every write operation: read-only file system --------------------------------------

    @Override
    public int mknod(String path, @mode_t long mode, @dev_t long rdev) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int mkdir(String path, @mode_t long mode) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int unlink(String path) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int rmdir(String path) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int symlink(String oldpath, String newpath) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int rename(String oldpath, String newpath) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int link(String oldpath, String newpath) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int chmod(String path, @mode_t long mode) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int chown(String path, @uid_t long uid, @gid_t long gid) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int truncate(String path, @off_t long size) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int write(String path, Pointer buf, @size_t long size, @off_t long offset, FuseFileInfo fi) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int create(String path, @mode_t long mode, FuseFileInfo fi) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int utimens(String path, Timespec[] timespec) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int setxattr(String path, String name, Pointer value, @size_t long size, int flags) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int removexattr(String path, String name) {
        return -ErrorCodes.EROFS();
    }

    @Override
    public int fallocate(String path, int mode, @off_t long off, @off_t long length, FuseFileInfo fi) {
        return -ErrorCodes.EROFS();
    }
}

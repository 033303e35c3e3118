package kmodpack.fuse;

import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.types.dev_t;
import jnr.ffi.types.gid_t;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.uid_t;
import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;
import ru.serce.jnrfuse.struct.Timespec;

/**
 * The image as a read-only FUSE file system through libfuse 2's path-based operations: the
 * server for processes that cannot mount by themselves (libfuse mounts through fusermount). Stat
 * answers come from the image's index (mode, owner, size, mtime to the nanosecond, inode = entry
 * inode); reads go through {@link ImageView}. Every write operation answers EROFS. A read that
 * meets a damaged block answers EIO; each damaged block is logged once.
 */
public final class ImageFs extends FuseStubFS {
    private static final int O_ACCMODE = 3;
    private static final int O_RDONLY = 0;
    private static final int O_TRUNC = 01000;
    /** libfuse 2 never asks for more than 128 KiB in one read. */
    private static final int MAX_READ = 128 << 10;
    private static final int STATFS_BLOCK = ImageView.STATFS_BLOCK;

    private final ModuleImage image;
    private final ImageView view;
    private final Map<String, ImageEntry> byPath;
    /** Per entry (by index = inode - 1): the name NUL-terminated in native memory for readdir
     * (a direct buffer is passed to libfuse by address, without a copy). */
    private final ByteBuffer[] names;
    private final ThreadLocal<FileStat> dirStat = ThreadLocal.withInitial(() -> {
        FileStat st = new FileStat(jnr.ffi.Runtime.getSystemRuntime());
        st.useMemory(jnr.ffi.Memory.allocateDirect(jnr.ffi.Runtime.getSystemRuntime(), Struct.size(st), true));
        return st;
    });
    private final ThreadLocal<byte[]> buffers = ThreadLocal.withInitial(() -> new byte[MAX_READ]);

    private final ByteBuffer dot;
    private final ByteBuffer dotdot;

    public ImageFs(ModuleImage image, long imageFileSize, ServerLog log) {
        this(image, imageFileSize, log, Runtime.getRuntime().availableProcessors());
    }

    /** @param readAheadBlocks how many blocks past each read to decode ahead (0: none) */
    public ImageFs(ModuleImage image, long imageFileSize, ServerLog log, int readAheadBlocks) {
        this(new ImageView(image, imageFileSize, log, readAheadBlocks));
    }

    ImageFs(ImageView view) {
        this.view = view;
        this.image = view.image;
        List<ImageEntry> all = image.entries();
        int n = all.size();
        byPath = new HashMap<>(n * 2);
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
    }

    private static ByteBuffer slice(ByteBuffer all, byte[] bytes) {
        int at = all.position();
        all.put(bytes);
        return all.duplicate().position(at).limit(at + bytes.length).slice();
    }

    private static int index(ImageEntry e) {
        return ImageView.index(e);
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
        st.st_nlink.set(view.nlink(e));
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
        view.opened(e);
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
        int n = view.read(e, offset, tmp, want);
        if (n < 0) {
            return -ErrorCodes.EIO();
        }
        buf.put(0, tmp, 0, n);
        return n;
    }

    /** See {@link ImageView#goesForward}. */
    boolean goesForward(ImageEntry e, long offset, int n) {
        return view.goesForward(e, offset, n);
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
        // Whatever the reader meets, the caller gets EIO: nothing unchecked reaches jnr-fuse.
        byte[] target = view.readlink(e);
        if (target == null) {
            return -ErrorCodes.EIO();
        }
        int n = (int) Math.min(target.length, size - 1);
        buf.put(0, target, 0, n);
        buf.putByte(n, (byte) 0);
        return 0;
    }

    @Override
    public int statfs(String path, Statvfs st) {
        st.f_bsize.set(STATFS_BLOCK);
        st.f_frsize.set(STATFS_BLOCK);
        st.f_blocks.set((view.imageFileSize + STATFS_BLOCK - 1) / STATFS_BLOCK);
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

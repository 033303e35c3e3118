package kmodpack.fuse;

import java.nio.ByteBuffer;

import kmodpack.image.ImageEntry;

/**
 * The FUSE kernel protocol's wire records (Linux {@code include/uapi/linux/fuse.h}, protocol
 * 7.x), the parts a read-only server uses: opcodes, the byte offsets of the fields read and
 * written, and the writers of the records that carry attributes. All little-endian on the
 * targets (the protocol uses the host's byte order).
 */
final class FuseKernel {
    private FuseKernel() {
    }

    static final int KERNEL_VERSION = 7;
    /** The newest minor whose records this class writes (7.31: Linux 5.4). */
    static final int KERNEL_MINOR = 31;
    static final long ROOT_ID = 1;
    /** The device refuses reads into smaller buffers. */
    static final int MIN_READ_BUFFER = 8192;

    // opcodes
    static final int LOOKUP = 1;
    static final int FORGET = 2;
    static final int GETATTR = 3;
    static final int SETATTR = 4;
    static final int READLINK = 5;
    static final int SYMLINK = 6;
    static final int MKNOD = 8;
    static final int MKDIR = 9;
    static final int UNLINK = 10;
    static final int RMDIR = 11;
    static final int RENAME = 12;
    static final int LINK = 13;
    static final int OPEN = 14;
    static final int READ = 15;
    static final int WRITE = 16;
    static final int STATFS = 17;
    static final int RELEASE = 18;
    static final int FSYNC = 20;
    static final int SETXATTR = 21;
    static final int GETXATTR = 22;
    static final int LISTXATTR = 23;
    static final int REMOVEXATTR = 24;
    static final int FLUSH = 25;
    static final int INIT = 26;
    static final int OPENDIR = 27;
    static final int READDIR = 28;
    static final int RELEASEDIR = 29;
    static final int FSYNCDIR = 30;
    static final int ACCESS = 34;
    static final int CREATE = 35;
    static final int INTERRUPT = 36;
    static final int DESTROY = 38;
    static final int BATCH_FORGET = 42;
    static final int FALLOCATE = 43;
    static final int READDIRPLUS = 44;
    static final int RENAME2 = 45;
    static final int COPY_FILE_RANGE = 47;
    static final int TMPFILE = 51;

    // fuse_init_in / fuse_init_out flags
    static final int ASYNC_READ = 1;
    static final int DO_READDIRPLUS = 1 << 13;
    static final int READDIRPLUS_AUTO = 1 << 14;
    static final int PARALLEL_DIROPS = 1 << 18;
    static final int CACHE_SYMLINKS = 1 << 23;

    // fuse_open_out.open_flags
    static final int FOPEN_KEEP_CACHE = 1 << 1;
    static final int FOPEN_CACHE_DIR = 1 << 3;

    // fuse_in_header: every request starts with it; the operation's record follows at IN_BODY
    static final int IN_LEN = 0;
    static final int IN_OPCODE = 4;
    static final int IN_UNIQUE = 8;
    static final int IN_NODEID = 16;
    static final int IN_BODY = 40;

    // fuse_out_header: every reply starts with it; error is a negated errno, 0 for success
    static final int OUT_LEN = 0;
    static final int OUT_ERROR = 4;
    static final int OUT_UNIQUE = 8;
    static final int OUT_BODY = 16;

    // fuse_init_in (at IN_BODY) and fuse_init_out (at OUT_BODY)
    static final int INIT_MAJOR = 0;
    static final int INIT_MINOR = 4;
    static final int INIT_MAX_READAHEAD = 8;
    static final int INIT_FLAGS = 12;
    static final int INIT_OUT_MAX_BACKGROUND = 16;
    static final int INIT_OUT_MAX_WRITE = 20;
    static final int INIT_OUT_TIME_GRAN = 24;
    static final int INIT_OUT_SIZE = 64;

    // fuse_open_in, fuse_read_in, fuse_getxattr_in, fuse_access_in (at IN_BODY)
    static final int OPEN_IN_FLAGS = 0;
    static final int READ_IN_OFFSET = 8;
    static final int READ_IN_SIZE = 16;
    static final int GETXATTR_IN_SIZE = 0;
    static final int ACCESS_IN_MASK = 0;

    // fuse_open_out
    static final int OPEN_OUT_FH = 0;
    static final int OPEN_OUT_FLAGS = 8;
    static final int OPEN_OUT_SIZE = 16;

    // fuse_attr: inside fuse_entry_out at ENTRY_ATTR and fuse_attr_out at ATTR_OUT_ATTR
    static final int ATTR_INO = 0;
    static final int ATTR_SIZE = 8;
    static final int ATTR_BLOCKS = 16;
    static final int ATTR_ATIME = 24;
    static final int ATTR_MTIME = 32;
    static final int ATTR_CTIME = 40;
    static final int ATTR_ATIMENSEC = 48;
    static final int ATTR_MTIMENSEC = 52;
    static final int ATTR_CTIMENSEC = 56;
    static final int ATTR_MODE = 60;
    static final int ATTR_NLINK = 64;
    static final int ATTR_UID = 68;
    static final int ATTR_GID = 72;
    static final int ATTR_RDEV = 76;
    static final int ATTR_BLKSIZE = 80;
    static final int ATTR_FLAGS = 84;
    static final int ATTR_RECORD = 88;

    // fuse_entry_out
    static final int ENTRY_NODEID = 0;
    static final int ENTRY_GENERATION = 8;
    static final int ENTRY_VALID = 16;
    static final int ENTRY_ATTR_VALID = 24;
    static final int ENTRY_VALID_NSEC = 32;
    static final int ENTRY_ATTR_VALID_NSEC = 36;
    static final int ENTRY_ATTR = 40;
    static final int ENTRY_SIZE = 128;

    // fuse_attr_out
    static final int ATTR_OUT_VALID = 0;
    static final int ATTR_OUT_VALID_NSEC = 8;
    static final int ATTR_OUT_ATTR = 16;
    static final int ATTR_OUT_SIZE = 104;

    // fuse_kstatfs (fuse_statfs_out)
    static final int STATFS_BLOCKS = 0;
    static final int STATFS_BFREE = 8;
    static final int STATFS_BAVAIL = 16;
    static final int STATFS_FILES = 24;
    static final int STATFS_FFREE = 32;
    static final int STATFS_BSIZE = 40;
    static final int STATFS_NAMELEN = 44;
    static final int STATFS_FRSIZE = 48;
    static final int STATFS_SIZE = 80;

    // fuse_getxattr_out
    static final int GETXATTR_OUT_SIZE = 8;

    // fuse_dirent: a directory entry in a READDIR reply, padded to 8 bytes; in a READDIRPLUS
    // reply each one follows a fuse_entry_out
    static final int DIRENT_INO = 0;
    static final int DIRENT_OFF = 8;
    static final int DIRENT_NAMELEN = 16;
    static final int DIRENT_TYPE = 20;
    static final int DIRENT_NAME = 24;

    /** The size of a dirent with a name of this length, padded. */
    static int direntSize(int nameLength) {
        return (DIRENT_NAME + nameLength + 7) & ~7;
    }

    /**
     * A fuse_attr at {@code at}: the values libfuse 2 gave from ImageFs's stat (inode = entry
     * inode, 512-byte blocks, 4 KiB I/O size, every time = the entry's mtime).
     */
    static void putAttr(ByteBuffer b, int at, ImageEntry e, int nlink) {
        b.putLong(at + ATTR_INO, e.inode());
        b.putLong(at + ATTR_SIZE, e.size());
        b.putLong(at + ATTR_BLOCKS, (e.size() + 511) / 512);
        b.putLong(at + ATTR_ATIME, e.mtimeSeconds());
        b.putLong(at + ATTR_MTIME, e.mtimeSeconds());
        b.putLong(at + ATTR_CTIME, e.mtimeSeconds());
        b.putInt(at + ATTR_ATIMENSEC, e.mtimeNanos());
        b.putInt(at + ATTR_MTIMENSEC, e.mtimeNanos());
        b.putInt(at + ATTR_CTIMENSEC, e.mtimeNanos());
        b.putInt(at + ATTR_MODE, e.mode());
        b.putInt(at + ATTR_NLINK, nlink);
        b.putInt(at + ATTR_UID, e.uid());
        b.putInt(at + ATTR_GID, e.gid());
        b.putInt(at + ATTR_RDEV, 0);
        b.putInt(at + ATTR_BLKSIZE, ImageView.STATFS_BLOCK);
        b.putInt(at + ATTR_FLAGS, 0);
    }

    /** A fuse_entry_out at {@code at}; {@code e == null}: a cached "no such name". */
    static void putEntry(ByteBuffer b, int at, ImageEntry e, int nlink, long validSeconds) {
        b.putLong(at + ENTRY_NODEID, e == null ? 0 : e.inode());
        b.putLong(at + ENTRY_GENERATION, 0);
        b.putLong(at + ENTRY_VALID, validSeconds);
        b.putLong(at + ENTRY_ATTR_VALID, validSeconds);
        b.putInt(at + ENTRY_VALID_NSEC, 0);
        b.putInt(at + ENTRY_ATTR_VALID_NSEC, 0);
        if (e == null) {
            for (int i = 0; i < ATTR_RECORD; i += 8) {
                b.putLong(at + ENTRY_ATTR + i, 0);
            }
        } else {
            putAttr(b, at + ENTRY_ATTR, e, nlink);
        }
    }

    /** A fuse_dirent at {@code at}; returns its padded size. */
    static int putDirent(ByteBuffer b, int at, long ino, long nextOffset, int mode, byte[] name) {
        b.putLong(at + DIRENT_INO, ino);
        b.putLong(at + DIRENT_OFF, nextOffset);
        b.putInt(at + DIRENT_NAMELEN, name.length);
        b.putInt(at + DIRENT_TYPE, (mode & 0170000) >> 12);
        b.put(at + DIRENT_NAME, name);
        int size = direntSize(name.length);
        for (int i = at + DIRENT_NAME + name.length; i < at + size; i++) {
            b.put(i, (byte) 0);
        }
        return size;
    }
}

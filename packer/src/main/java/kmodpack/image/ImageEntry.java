package kmodpack.image;

/**
 * One entry of an image: a directory, a regular file or a symbolic link, with its stored
 * metadata. Immutable; obtained from {@link ModuleImage}.
 */
public final class ImageEntry {
    final int index;
    final int parent;
    /** The name's bytes in the index's string table, decoded on first use: most are never asked. */
    private final byte[] strings;
    private final int nameOffset;
    private final int nameLength;
    private String name;
    private final int mode;
    private final int uid;
    private final int gid;
    private final long mtimeSeconds;
    private final int mtimeNanos;
    final int childCount;
    private final long size;
    /** Data offset (file), string-table offset (link) or first child index (directory). */
    final long location;
    /** Regular files: the stream that holds the bytes (0 in a version 1 image). */
    final int stream;
    /** Regular files: how the bytes are made from the streams (FORMAT.md, Streams); 0 is identity. */
    final int transform;

    ImageEntry(int index, int parent, byte[] strings, int nameOffset, int nameLength, int mode, int uid, int gid,
               long mtimeSeconds, int mtimeNanos, int childCount, long size, long location, int stream, int transform) {
        this.index = index;
        this.parent = parent;
        this.strings = strings;
        this.nameOffset = nameOffset;
        this.nameLength = nameLength;
        this.mode = mode;
        this.uid = uid;
        this.gid = gid;
        this.mtimeSeconds = mtimeSeconds;
        this.mtimeNanos = mtimeNanos;
        this.childCount = childCount;
        this.size = size;
        this.location = location;
        this.stream = stream;
        this.transform = transform;
    }

    /** Inode number: stable for a given image, 1 for the root. */
    public long inode() {
        return index + 1L;
    }

    /** The last path component; empty for the root. */
    public String name() {
        // Racy but safe: every thread computes the same immutable String.
        String n = name;
        if (n == null) {
            n = new String(strings, nameOffset, nameLength, java.nio.charset.StandardCharsets.UTF_8);
            name = n;
        }
        return n;
    }

    /** POSIX st_mode: type bits and permission bits. */
    public int mode() {
        return mode;
    }

    public int permissions() {
        return mode & 07777;
    }

    public int uid() {
        return uid;
    }

    public int gid() {
        return gid;
    }

    public long mtimeSeconds() {
        return mtimeSeconds;
    }

    public int mtimeNanos() {
        return mtimeNanos;
    }

    /** File length, link target length, or 0 for a directory. */
    public long size() {
        return size;
    }

    /** Number of entries in a directory; 0 for others. */
    public int childCount() {
        return childCount;
    }

    public boolean isDirectory() {
        return (mode & ImageFormat.S_IFMT) == ImageFormat.S_IFDIR;
    }

    public boolean isRegularFile() {
        return (mode & ImageFormat.S_IFMT) == ImageFormat.S_IFREG;
    }

    public boolean isSymlink() {
        return (mode & ImageFormat.S_IFMT) == ImageFormat.S_IFLNK;
    }

    public boolean isRoot() {
        return index == 0;
    }

    @Override
    public String toString() {
        return "ImageEntry[" + inode() + " " + name + "]";
    }
}

package kmodpack.image;

import java.nio.charset.StandardCharsets;

/** Constants of the image format; docs/FORMAT.md is the specification they follow. */
public final class ImageFormat {
    private ImageFormat() {
    }

    static final byte[] MAGIC = "KMODPACK".getBytes(StandardCharsets.US_ASCII);
    /** The version this code writes; it reads 1.x and 2.x. */
    public static final int MAJOR = 2;
    public static final int MINOR = 0;
    /** The first version, still read (and written on request, for tests and old readers). */
    public static final int MAJOR_V1 = 1;

    // Record layouts (sizes, field offsets, encoding) are in ImageLayout.

    /** Version 2 transforms (the low 8 bits of a regular file's layout word). */
    static final int TRANSFORM_IDENTITY = 0;

    /** Version 2 stream names the writer uses; readers only need them for messages. */
    static final String HOT_STREAM = "hot";
    static final String DATA_STREAM = "data";
    /** Hot data is cut small: a trie lookup decodes a few of these, never a whole data block. */
    public static final int HOT_BLOCK_SIZE = 16 << 10;
    static final int HOT_LZ4_LEVEL = 12;

    /**
     * Files a module lookup reads on every run (libkmod's binary indexes and the small text
     * files it reads as they are): the writer puts them in the hot stream. {@code path} is
     * relative to the tree's root.
     */
    public static boolean isHot(String path) {
        return !path.contains("/") && path.startsWith("modules.")
                && (path.endsWith(".bin") || path.equals("modules.softdep") || path.equals("modules.devname"));
    }

    public static final int MIN_BLOCK_SIZE = 4096;
    public static final int MAX_BLOCK_SIZE = 64 << 20;

    public static final int S_IFMT = 0170000;
    public static final int S_IFDIR = 0040000;
    public static final int S_IFREG = 0100000;
    public static final int S_IFLNK = 0120000;

    static final int MAX_NAME = 255;
    static final int MAX_LINK_TARGET = 4095;

    /**
     * The rule for entry names and for the kernel version (FORMAT.md): 1..255 bytes, no '/' and
     * no NUL, not "." or "..". The version names the directory under /lib/modules that mount
     * and extract create, so it must be one path component, like a name.
     */
    static boolean validName(byte[] s, int off, int len) {
        if (len < 1 || len > MAX_NAME || off < 0 || off > s.length - len) {
            return false;
        }
        for (int i = off; i < off + len; i++) {
            if (s[i] == '/' || s[i] == 0) {
                return false;
            }
        }
        return !(len == 1 && s[off] == '.') && !(len == 2 && s[off] == '.' && s[off + 1] == '.');
    }

    /** Whether a kernel version may be written to or read from an image: see {@link #validName}. */
    public static boolean validKernelVersion(String version) {
        byte[] b = version.getBytes(StandardCharsets.UTF_8);
        return validName(b, 0, b.length);
    }

    static boolean validBlockSize(long size) {
        return size >= MIN_BLOCK_SIZE && size <= MAX_BLOCK_SIZE && Long.bitCount(size) == 1;
    }
}

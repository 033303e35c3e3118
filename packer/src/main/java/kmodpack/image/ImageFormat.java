package kmodpack.image;

import java.nio.charset.StandardCharsets;

/** Constants of the image format; docs/FORMAT.md is the specification they follow. */
public final class ImageFormat {
    private ImageFormat() {
    }

    static final byte[] MAGIC = "KMODPACK".getBytes(StandardCharsets.US_ASCII);
    public static final int MAJOR = 1;
    public static final int MINOR = 0;

    public static final int HEADER_SIZE = 64;
    static final int INDEX_HEADER_SIZE = 32;
    static final int BLOCK_RECORD_SIZE = 24;
    static final int ENTRY_RECORD_SIZE = 56;

    public static final int MIN_BLOCK_SIZE = 4096;
    public static final int MAX_BLOCK_SIZE = 64 << 20;

    static final int BLOCK_FLAG_RAW = 1;

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

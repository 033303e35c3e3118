package kmodpack.loader;

import io.airlift.compress.zstd.ZstdInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/** Compressed modules (.ko.xz, .ko.zst, .ko.gz), recognised by their magic bytes as kmod does. */
public final class Decompress {
    private Decompress() {}

    /** The kernel's name for the compression (as in /sys/module/compression), or null for none. */
    public static String kind(byte[] b) {
        if (b.length >= 6 && (b[0] & 0xff) == 0xfd && b[1] == '7' && b[2] == 'z' && b[3] == 'X' && b[4] == 'Z'
                && b[5] == 0) return "xz";
        if (b.length >= 4 && (b[0] & 0xff) == 0x28 && (b[1] & 0xff) == 0xb5 && (b[2] & 0xff) == 0x2f
                && (b[3] & 0xff) == 0xfd) return "zstd";
        if (b.length >= 2 && (b[0] & 0xff) == 0x1f && (b[1] & 0xff) == 0x8b) return "gzip";
        return null;
    }

    /** The raw ELF for {@code b}; {@code b} itself when it is not compressed. */
    public static byte[] decompress(byte[] b) throws IOException {
        String kind = kind(b);
        if (kind == null) return b;
        InputStream raw = new ByteArrayInputStream(b);
        try (InputStream in = switch (kind) {
            case "xz" -> new XZInputStream(raw);
            case "zstd" -> new ZstdInputStream(raw);
            default -> new GZIPInputStream(raw, 65536);
        }) {
            return in.readAllBytes();
        } catch (IOException | RuntimeException e) {
            throw new IOException(kind + " data is damaged: " + e.getMessage(), e);
        }
    }
}

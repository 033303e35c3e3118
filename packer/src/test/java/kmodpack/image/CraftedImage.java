package kmodpack.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A small real image, uncompressed (codec none, index stored raw), whose header and index a
 * test rewrites field by field. {@link #write} refreshes every checksum, as an attacker would,
 * so only the reader's rules stand between the crafted values and the code that uses them.
 */
final class CraftedImage {
    final byte[] bytes;
    /** Little-endian view of the whole file. */
    final ByteBuffer buf;
    final int indexAt;

    private CraftedImage(byte[] bytes) {
        this.bytes = bytes;
        this.buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        this.indexAt = (int) buf.getLong(32);
        if (bytes[13] != 0) {
            throw new IllegalStateException("the index must be stored raw");
        }
    }

    /** Packs {@code src} with version "v" into a plain image. */
    static CraftedImage of(Path src, Path work) throws IOException {
        Path image = work.resolve("crafted-source");
        kmodpack.packer.ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.NONE, 0, 4096, 1), null);
        return new CraftedImage(Files.readAllBytes(image));
    }

    /** An independent copy to change. */
    CraftedImage copy() {
        return new CraftedImage(bytes.clone());
    }

    int entryCount() {
        return buf.getInt(indexAt);
    }

    int blockCount() {
        return buf.getInt(indexAt + 4);
    }

    /** File offset of index header field {@code off}. */
    int indexField(int off) {
        return indexAt + off;
    }

    /** File offset of block record {@code b}. */
    int block(int b) {
        return indexAt + ImageFormat.INDEX_HEADER_SIZE + ImageFormat.BLOCK_RECORD_SIZE * b;
    }

    /** File offset of entry record {@code i}. */
    int entry(int i) {
        return block(blockCount()) + ImageFormat.ENTRY_RECORD_SIZE * i;
    }

    /** File offset of the string table. */
    int strings() {
        return entry(entryCount());
    }

    /** The first entry whose name is {@code name}. */
    int entryNamed(String name) {
        byte[] want = name.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 1; i < entryCount(); i++) {
            int r = entry(i);
            int off = strings() + buf.getInt(r + 4);
            int len = buf.getInt(r + 8);
            if (java.util.Arrays.equals(bytes, off, off + len, want, 0, want.length)) {
                return i;
            }
        }
        throw new IllegalArgumentException("no entry " + name);
    }

    /** Writes the image with fresh index and header checksums. */
    Path write(Path p) throws IOException {
        int crc = ModuleImage.crc(bytes, indexAt, bytes.length - indexAt);
        buf.putInt(52, crc).putInt(56, crc);
        buf.putInt(60, ModuleImage.crc(bytes, 0, 60));
        Files.write(p, bytes);
        return p;
    }

    /** Refreshes only the header checksum (for header fields that make the index unreadable anyway). */
    static byte[] sealHeader(byte[] image) {
        ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).putInt(60, ModuleImage.crc(image, 0, 60));
        return image;
    }
}

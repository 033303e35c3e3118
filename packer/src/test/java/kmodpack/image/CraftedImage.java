package kmodpack.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import kmodpack.image.ImageLayout.BlockRecord;
import kmodpack.image.ImageLayout.EntryRecord;
import kmodpack.image.ImageLayout.Header;
import kmodpack.image.ImageLayout.IndexHeader;
import kmodpack.image.ImageLayout.StreamRecord;

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
        this.indexAt = (int) buf.getLong(Header.INDEX_OFFSET_AT);
        if (bytes[Header.INDEX_CODEC_AT] != 0) {
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
        return buf.getInt(indexAt + IndexHeader.ENTRY_COUNT_AT);
    }

    int blockCount() {
        return buf.getInt(indexAt + IndexHeader.BLOCK_COUNT_AT);
    }

    /** File offset of index header field {@code off}. */
    int indexField(int off) {
        return indexAt + off;
    }

    /** Version 2 images hold a stream table between the index header and the block table. */
    int streamCount() {
        return buf.getShort(Header.MAJOR_AT) == ImageFormat.MAJOR_V1 ? 0 : buf.getInt(indexAt + IndexHeader.STREAM_COUNT_AT);
    }

    /** File offset of stream record {@code s} (version 2). */
    int stream(int s) {
        return indexAt + IndexHeader.SIZE + StreamRecord.SIZE * s;
    }

    /** File offset of block record {@code b}. */
    int block(int b) {
        return stream(streamCount()) + BlockRecord.SIZE * b;
    }

    /** File offset of entry record {@code i}. */
    int entry(int i) {
        return block(blockCount()) + EntryRecord.SIZE * i;
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
            int off = strings() + buf.getInt(r + EntryRecord.NAME_OFFSET_AT);
            int len = buf.getInt(r + EntryRecord.NAME_LENGTH_AT);
            if (java.util.Arrays.equals(bytes, off, off + len, want, 0, want.length)) {
                return i;
            }
        }
        throw new IllegalArgumentException("no entry " + name);
    }

    /** Writes the image with fresh index and header checksums. */
    Path write(Path p) throws IOException {
        int crc = ImageLayout.crc(bytes, indexAt, bytes.length - indexAt);
        buf.putInt(Header.INDEX_STORED_CRC_AT, crc).putInt(Header.INDEX_RAW_CRC_AT, crc);
        Header.seal(bytes);
        Files.write(p, bytes);
        return p;
    }

    /** Refreshes only the header checksum (for header fields that make the index unreadable anyway). */
    static byte[] sealHeader(byte[] image) {
        Header.seal(image);
        return image;
    }
}

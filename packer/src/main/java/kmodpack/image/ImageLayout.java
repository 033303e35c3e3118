package kmodpack.image;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * Every on-disk record of the image format (docs/FORMAT.md), defined once: field offsets and
 * sizes by name, and how each record is encoded and decoded. The writer, the reader, the tests
 * and the damage tool of the boot test all go through here, so a field moves in one place.
 *
 * <p>Decoding checks nothing: it turns bytes into numbers, as they are. The rules that make
 * numbers trustworthy live in {@link ImageIndex}, where untrusted input is parsed.
 */
public final class ImageLayout {
    private ImageLayout() {
    }

    /** CRC-32C (Castagnoli), the checksum of every checked range of an image. */
    public static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    static ByteBuffer littleEndian(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The 64-byte header at offset 0. {@code codec} and {@code blockSize} are the data stream's
     * in version 1; in version 2 the codec is 0 and the block size the largest of any stream's
     * (0 in images written before that rule: FORMAT.md, Header).
     */
    public record Header(int major, int minor, int codec, int indexCodec, int blockSize, long dataLength,
                         long indexOffset, long indexStoredLength, int indexRawLength, int indexStoredCrc,
                         int indexRawCrc) {
        public static final int SIZE = 64;
        public static final int MAGIC_AT = 0;
        public static final int MAJOR_AT = 8;
        public static final int MINOR_AT = 10;
        public static final int CODEC_AT = 12;
        public static final int INDEX_CODEC_AT = 13;
        public static final int BLOCK_SIZE_AT = 16;
        public static final int DATA_LENGTH_AT = 24;
        public static final int INDEX_OFFSET_AT = 32;
        public static final int INDEX_STORED_LENGTH_AT = 40;
        public static final int INDEX_RAW_LENGTH_AT = 48;
        public static final int INDEX_STORED_CRC_AT = 52;
        public static final int INDEX_RAW_CRC_AT = 56;
        /** CRC-32C of bytes 0 .. HEADER_CRC_AT - 1. */
        public static final int HEADER_CRC_AT = 60;

        /** Whether the first bytes of an image are the magic. */
        public static boolean hasMagic(byte[] header) {
            return header.length >= ImageFormat.MAGIC.length
                    && Arrays.equals(header, MAGIC_AT, MAGIC_AT + ImageFormat.MAGIC.length,
                    ImageFormat.MAGIC, 0, ImageFormat.MAGIC.length);
        }

        /** Whether the stored header checksum matches bytes 0..59. */
        public static boolean crcMatches(byte[] header) {
            return crc(header, 0, HEADER_CRC_AT) == littleEndian(header).getInt(HEADER_CRC_AT);
        }

        /** Stores a fresh header checksum (writers, and tests that craft headers). */
        public static void seal(byte[] header) {
            littleEndian(header).putInt(HEADER_CRC_AT, crc(header, 0, HEADER_CRC_AT));
        }

        /** The fields of a 64-byte header, unchecked. */
        public static Header decode(byte[] h) {
            ByteBuffer b = littleEndian(h);
            return new Header(Short.toUnsignedInt(b.getShort(MAJOR_AT)), Short.toUnsignedInt(b.getShort(MINOR_AT)),
                    Byte.toUnsignedInt(b.get(CODEC_AT)), Byte.toUnsignedInt(b.get(INDEX_CODEC_AT)),
                    b.getInt(BLOCK_SIZE_AT), b.getLong(DATA_LENGTH_AT), b.getLong(INDEX_OFFSET_AT),
                    b.getLong(INDEX_STORED_LENGTH_AT), b.getInt(INDEX_RAW_LENGTH_AT), b.getInt(INDEX_STORED_CRC_AT),
                    b.getInt(INDEX_RAW_CRC_AT));
        }

        /** The 64 bytes of this header, magic and checksum included; reserved fields 0. */
        public byte[] encode() {
            byte[] h = new byte[SIZE];
            littleEndian(h).put(MAGIC_AT, ImageFormat.MAGIC)
                    .putShort(MAJOR_AT, (short) major).putShort(MINOR_AT, (short) minor)
                    .put(CODEC_AT, (byte) codec).put(INDEX_CODEC_AT, (byte) indexCodec)
                    .putInt(BLOCK_SIZE_AT, blockSize).putLong(DATA_LENGTH_AT, dataLength)
                    .putLong(INDEX_OFFSET_AT, indexOffset).putLong(INDEX_STORED_LENGTH_AT, indexStoredLength)
                    .putInt(INDEX_RAW_LENGTH_AT, indexRawLength).putInt(INDEX_STORED_CRC_AT, indexStoredCrc)
                    .putInt(INDEX_RAW_CRC_AT, indexRawCrc);
            seal(h);
            return h;
        }
    }

    /** The 32-byte header of the decoded index. {@code streamCount} is 0 in version 1. */
    public record IndexHeader(int entryCount, int blockCount, int stringTableLength, int versionOffset,
                              int versionLength, int streamCount) {
        public static final int SIZE = 32;
        public static final int ENTRY_COUNT_AT = 0;
        public static final int BLOCK_COUNT_AT = 4;
        public static final int STRING_TABLE_LENGTH_AT = 8;
        public static final int VERSION_OFFSET_AT = 12;
        public static final int VERSION_LENGTH_AT = 16;
        public static final int STREAM_COUNT_AT = 20;

        public static IndexHeader decode(ByteBuffer index, int major) {
            return new IndexHeader(index.getInt(ENTRY_COUNT_AT), index.getInt(BLOCK_COUNT_AT),
                    index.getInt(STRING_TABLE_LENGTH_AT), index.getInt(VERSION_OFFSET_AT),
                    index.getInt(VERSION_LENGTH_AT),
                    major == ImageFormat.MAJOR_V1 ? 0 : index.getInt(STREAM_COUNT_AT));
        }

        public void encode(ByteBuffer index) {
            index.putInt(ENTRY_COUNT_AT, entryCount).putInt(BLOCK_COUNT_AT, blockCount)
                    .putInt(STRING_TABLE_LENGTH_AT, stringTableLength).putInt(VERSION_OFFSET_AT, versionOffset)
                    .putInt(VERSION_LENGTH_AT, versionLength).putInt(STREAM_COUNT_AT, streamCount);
        }

        /** Where the stream table starts (version 2; empty in version 1). */
        public int streamsAt() {
            return SIZE;
        }

        public int blocksAt() {
            return streamsAt() + StreamRecord.SIZE * streamCount;
        }

        public long entriesAt() {
            return blocksAt() + (long) BlockRecord.SIZE * blockCount;
        }

        public long stringsAt() {
            return entriesAt() + (long) EntryRecord.SIZE * entryCount;
        }

        /** The decoded index length these counts call for; in 64 bits, as counts are untrusted. */
        public long indexLength() {
            return stringsAt() + stringTableLength;
        }
    }

    /** A stream record (version 2). {@code codecWord} is the codec byte and the 3 reserved bytes after it. */
    public record StreamRecord(int nameOffset, int nameLength, int codecWord, int blockSize, long rawLength,
                               int firstBlock, int blockCount) {
        public static final int SIZE = 32;
        public static final int NAME_OFFSET_AT = 0;
        public static final int NAME_LENGTH_AT = 4;
        /** One byte; the 3 bytes after it are reserved, 0. */
        public static final int CODEC_AT = 8;
        public static final int BLOCK_SIZE_AT = 12;
        public static final int RAW_LENGTH_AT = 16;
        public static final int FIRST_BLOCK_AT = 24;
        public static final int BLOCK_COUNT_AT = 28;

        public static StreamRecord decode(ByteBuffer b, int at) {
            return new StreamRecord(b.getInt(at + NAME_OFFSET_AT), b.getInt(at + NAME_LENGTH_AT),
                    b.getInt(at + CODEC_AT), b.getInt(at + BLOCK_SIZE_AT), b.getLong(at + RAW_LENGTH_AT),
                    b.getInt(at + FIRST_BLOCK_AT), b.getInt(at + BLOCK_COUNT_AT));
        }

        public void encode(ByteBuffer b, int at) {
            b.putInt(at + NAME_OFFSET_AT, nameOffset).putInt(at + NAME_LENGTH_AT, nameLength)
                    .putInt(at + CODEC_AT, codecWord).putInt(at + BLOCK_SIZE_AT, blockSize)
                    .putLong(at + RAW_LENGTH_AT, rawLength).putInt(at + FIRST_BLOCK_AT, firstBlock)
                    .putInt(at + BLOCK_COUNT_AT, blockCount);
        }

        public int codec() {
            return codecWord & 0xff;
        }

        public int reserved() {
            return codecWord >>> 8;
        }
    }

    /** A block record: where a compressed block lies and its two checksums. */
    public record BlockRecord(long offset, int storedLength, int flags, int storedCrc, int rawCrc) {
        public static final int SIZE = 24;
        public static final int OFFSET_AT = 0;
        public static final int STORED_LENGTH_AT = 8;
        public static final int FLAGS_AT = 12;
        public static final int STORED_CRC_AT = 16;
        public static final int RAW_CRC_AT = 20;
        /** Flag bit 0: the block is stored raw, not with its stream's codec. */
        public static final int FLAG_RAW = 1;

        public static BlockRecord decode(ByteBuffer b, int at) {
            return new BlockRecord(b.getLong(at + OFFSET_AT), b.getInt(at + STORED_LENGTH_AT), b.getInt(at + FLAGS_AT),
                    b.getInt(at + STORED_CRC_AT), b.getInt(at + RAW_CRC_AT));
        }

        /** The same from the index's bytes, as the reader decodes every block at its start. */
        static BlockRecord decode(byte[] b, int at) {
            return new BlockRecord(s64(b, at + OFFSET_AT), u32(b, at + STORED_LENGTH_AT), u32(b, at + FLAGS_AT),
                    u32(b, at + STORED_CRC_AT), u32(b, at + RAW_CRC_AT));
        }

        public void encode(ByteBuffer b, int at) {
            b.putLong(at + OFFSET_AT, offset).putInt(at + STORED_LENGTH_AT, storedLength).putInt(at + FLAGS_AT, flags)
                    .putInt(at + STORED_CRC_AT, storedCrc).putInt(at + RAW_CRC_AT, rawCrc);
        }

        public boolean isRaw() {
            return (flags & FLAG_RAW) != 0;
        }
    }

    /**
     * An entry record. {@code childCountOrLayout} is a directory's child count, or in version 2
     * a regular file's layout word (see {@link #layoutWord}).
     */
    public record EntryRecord(int parent, int nameOffset, int nameLength, int mode, int uid, int gid,
                              long mtimeSeconds, int mtimeNanos, int childCountOrLayout, long size, long location) {
        public static final int SIZE = 56;
        public static final int PARENT_AT = 0;
        public static final int NAME_OFFSET_AT = 4;
        public static final int NAME_LENGTH_AT = 8;
        public static final int MODE_AT = 12;
        public static final int UID_AT = 16;
        public static final int GID_AT = 20;
        public static final int MTIME_SECONDS_AT = 24;
        public static final int MTIME_NANOS_AT = 32;
        public static final int CHILD_COUNT_OR_LAYOUT_AT = 36;
        public static final int SIZE_AT = 40;
        public static final int LOCATION_AT = 48;

        public static EntryRecord decode(ByteBuffer b, int at) {
            return new EntryRecord(b.getInt(at + PARENT_AT), b.getInt(at + NAME_OFFSET_AT), b.getInt(at + NAME_LENGTH_AT),
                    b.getInt(at + MODE_AT), b.getInt(at + UID_AT), b.getInt(at + GID_AT), b.getLong(at + MTIME_SECONDS_AT),
                    b.getInt(at + MTIME_NANOS_AT), b.getInt(at + CHILD_COUNT_OR_LAYOUT_AT), b.getLong(at + SIZE_AT),
                    b.getLong(at + LOCATION_AT));
        }

        /** The same from the index's bytes, as the reader decodes every entry at its start. */
        static EntryRecord decode(byte[] b, int at) {
            return new EntryRecord(u32(b, at + PARENT_AT), u32(b, at + NAME_OFFSET_AT), u32(b, at + NAME_LENGTH_AT),
                    u32(b, at + MODE_AT), u32(b, at + UID_AT), u32(b, at + GID_AT), s64(b, at + MTIME_SECONDS_AT),
                    u32(b, at + MTIME_NANOS_AT), u32(b, at + CHILD_COUNT_OR_LAYOUT_AT), s64(b, at + SIZE_AT),
                    s64(b, at + LOCATION_AT));
        }

        public void encode(ByteBuffer b, int at) {
            b.putInt(at + PARENT_AT, parent).putInt(at + NAME_OFFSET_AT, nameOffset).putInt(at + NAME_LENGTH_AT, nameLength)
                    .putInt(at + MODE_AT, mode).putInt(at + UID_AT, uid).putInt(at + GID_AT, gid)
                    .putLong(at + MTIME_SECONDS_AT, mtimeSeconds).putInt(at + MTIME_NANOS_AT, mtimeNanos)
                    .putInt(at + CHILD_COUNT_OR_LAYOUT_AT, childCountOrLayout).putLong(at + SIZE_AT, size)
                    .putLong(at + LOCATION_AT, location);
        }
    }

    /** Version 2 layout word of a regular file: transform in bits 0-7, stream in bits 8-23, bits 24-31 zero. */
    public static int layoutWord(int transform, int stream) {
        return transform | stream << 8;
    }

    public static int transformOf(int layoutWord) {
        return layoutWord & 0xff;
    }

    public static int streamOf(int layoutWord) {
        return (layoutWord >>> 8) & 0xffff;
    }

    /** Bits 24-31 of a layout word, which must be zero. */
    public static int layoutReserved(int layoutWord) {
        return layoutWord >>> 24;
    }

    /**
     * The little-endian 32-bit field at {@code at}, in plain byte arithmetic: the reader decodes
     * every block and entry of the index at its start, while the JVM still interprets, and a
     * ByteBuffer's getInt is several calls deep there.
     */
    static int u32(byte[] b, int at) {
        return b[at] & 0xff | (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff) << 16 | b[at + 3] << 24;
    }

    /** The little-endian 64-bit field at {@code at}. */
    static long s64(byte[] b, int at) {
        return u32(b, at) & 0xffffffffL | (long) u32(b, at + 4) << 32;
    }
}

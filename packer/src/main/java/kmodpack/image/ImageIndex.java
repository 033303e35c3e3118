package kmodpack.image;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import kmodpack.image.ImageLayout.BlockRecord;
import kmodpack.image.ImageLayout.EntryRecord;
import kmodpack.image.ImageLayout.Header;
import kmodpack.image.ImageLayout.IndexHeader;
import kmodpack.image.ImageLayout.StreamRecord;
import kmodpack.image.elf.ElfJoin;

/**
 * The checked index of an image: its header and index read, decoded and held to every rule of
 * FORMAT.md, then the tree they describe (lookup by name, children, paths, link targets) and
 * the stream and block tables the block store reads by. Everything above this class works on
 * values checked here. Immutable, so thread-safe.
 */
final class ImageIndex {
    final Path file;
    final int major;
    final int minor;
    final long dataLength;
    final long indexOffset;
    final String kernelVersion;

    /** The streams (FORMAT.md, Streams); a version 1 image has one, "data". */
    final StreamInfo[] streams;
    final BlockRecord[] blocks;
    /** For each block, the stream it belongs to. */
    final int[] blockStream;

    private final ImageEntry[] entries;
    /** Where each entry's name lies in the string table: lookup compares raw bytes. */
    private final int[] nameOffsets;
    private final int[] nameLengths;
    private final byte[] strings;

    /**
     * Reads and checks an image's header and index, in FORMAT.md's order.
     *
     * @throws ImageException when the file is not an image or is damaged; the message names the
     *                        file and says which
     */
    static ImageIndex read(Path file, FileChannel ch) throws IOException {
        long fileLength = ch.size();
        if (fileLength < Header.SIZE) {
            throw new ImageException(file + ": not a kmodpack image (too short)");
        }
        byte[] hb = new byte[Header.SIZE];
        readFully(ch, ByteBuffer.wrap(hb), 0);
        if (!Header.hasMagic(hb)) {
            throw new ImageException(file + ": not a kmodpack image");
        }
        if (!Header.crcMatches(hb)) {
            throw new ImageException(file + ": damaged image header (checksum mismatch)");
        }
        Header h = Header.decode(hb);
        int major = h.major();
        if (major != ImageFormat.MAJOR && major != ImageFormat.MAJOR_V1) {
            throw new ImageException(file + ": image format version " + major + "." + h.minor()
                    + " is not supported (this kmodpack reads " + ImageFormat.MAJOR_V1 + ".x and " + ImageFormat.MAJOR + ".x)");
        }
        boolean v1 = major == ImageFormat.MAJOR_V1;
        Codec codec;
        Codec indexCodec;
        try {
            // Version 2 keeps the codec and block size per stream; the header's codec is 0.
            codec = v1 ? Codec.byId(h.codec()) : null;
            indexCodec = Codec.byId(h.indexCodec());
        } catch (ImageException e) {
            throw new ImageException(file + ": " + e.getMessage());
        }
        int blockSize = h.blockSize();
        long indexOffset = h.indexOffset();
        long indexStored = h.indexStoredLength();
        long indexRaw = Integer.toUnsignedLong(h.indexRawLength());
        // Version 2: the largest stream block size (checked against the streams below), or 0 as
        // the first 2.0 writers left it.
        boolean blockSizeValid = ImageFormat.validBlockSize(blockSize) || !v1 && blockSize == 0;
        if (!blockSizeValid || !v1 && h.codec() != 0 || h.dataLength() < 0
                || indexOffset < Header.SIZE || indexStored <= 0 || indexStored > Integer.MAX_VALUE - 16
                || indexRaw > Integer.MAX_VALUE - 16) {
            throw new ImageException(file + ": damaged image header");
        }
        // Every length is bounded before anything is allocated for it: the stored index by the
        // file's length, its decoded length by what the codec can expand that to.
        if (indexOffset > fileLength || indexStored != fileLength - indexOffset) {
            throw new ImageException(file + ": image is truncated or has trailing data (" + fileLength
                    + " bytes, header says " + (indexOffset > Long.MAX_VALUE - indexStored ? "more than 2^63" : indexOffset + indexStored) + ")");
        }
        if (indexRaw > indexCodec.maxRawLength(indexStored)) {
            throw new ImageException(file + ": damaged image header (an index of " + indexStored
                    + " bytes cannot decode to " + indexRaw + ")");
        }
        byte[] stored = new byte[(int) indexStored];
        readFully(ch, ByteBuffer.wrap(stored), indexOffset);
        int storedCrc = ImageLayout.crc(stored, 0, stored.length);
        if (storedCrc != h.indexStoredCrc()) {
            throw new ImageException(file + ": damaged image index (checksum mismatch)");
        }
        byte[] raw;
        int rawCrc;
        if (indexCodec == Codec.NONE && indexRaw == indexStored) {
            // Stored raw (kmodpack's version 2 indexes): the same bytes, so the same checksum.
            raw = stored;
            rawCrc = storedCrc;
        } else {
            raw = new byte[(int) indexRaw];
            try {
                // The index is one unit: its "block size" is its own length (FORMAT.md, Index).
                indexCodec.decompress(stored, stored.length, raw, raw.length, raw.length);
            } catch (ImageException e) {
                throw new ImageException(file + ": damaged image index (" + e.getMessage() + ")");
            }
            rawCrc = ImageLayout.crc(raw, 0, raw.length);
        }
        if (rawCrc != h.indexRawCrc()) {
            throw new ImageException(file + ": damaged image index (checksum mismatch after decoding)");
        }
        if (raw.length < IndexHeader.SIZE) {
            throw new ImageException(file + ": damaged image index (too short)");
        }
        try {
            return new ImageIndex(file, h, codec, ImageLayout.littleEndian(raw));
        } catch (ImageException e) {
            throw new ImageException(file + ": " + e.getMessage());
        } catch (RuntimeException e) {
            // The checks should leave nothing to fail here; if one was missed, the caller still
            // gets the reader's own exception, never an unchecked one from deep inside.
            throw new ImageException(file + ": damaged image index (" + e + ")", e);
        }
    }

    private ImageIndex(Path file, Header h, Codec v1Codec, ByteBuffer index) throws ImageException {
        this.file = file;
        this.major = h.major();
        this.minor = h.minor();
        this.dataLength = h.dataLength();
        this.indexOffset = h.indexOffset();
        boolean v1 = major == ImageFormat.MAJOR_V1;

        IndexHeader ih = IndexHeader.decode(index, major);
        int entryCount = ih.entryCount();
        int blockCount = ih.blockCount();
        int stringLength = ih.stringTableLength();
        int streamCount = ih.streamCount();
        int blockSize = h.blockSize();
        long expectedBlocks = v1 ? dataLength / blockSize + (dataLength % blockSize != 0 ? 1 : 0) : blockCount;
        if (entryCount < 1 || blockCount < 0 || stringLength < 0 || streamCount < 0 || streamCount > 255
                || blockCount != expectedBlocks) {
            throw damagedIndex("bad counts");
        }
        if (ih.indexLength() != index.capacity()) {
            throw damagedIndex("sections do not add up to its length");
        }
        strings = new byte[stringLength];
        index.get((int) ih.stringsAt(), strings);

        // The version becomes a directory name (mount's /lib/modules/VERSION): one safe component.
        if (!ImageFormat.validName(strings, ih.versionOffset(), ih.versionLength())) {
            throw damagedIndex("the kernel version is not a valid name");
        }
        kernelVersion = string(ih.versionOffset(), ih.versionLength(), "kernel version");

        if (v1) {
            streams = new StreamInfo[] {new StreamInfo(ImageFormat.DATA_STREAM, v1Codec, blockSize, dataLength, 0, blockCount)};
        } else {
            streams = new StreamInfo[streamCount];
            long total = 0;
            int nextBlock = 0;
            for (int s = 0; s < streamCount; s++) {
                StreamRecord r = StreamRecord.decode(index, ih.streamsAt() + s * StreamRecord.SIZE);
                Codec c = Codec.byId(r.codec());
                int bs = r.blockSize();
                long raw = r.rawLength();
                int count = r.blockCount();
                if (!ImageFormat.validBlockSize(bs) || raw < 0 || raw > Long.MAX_VALUE - total || r.firstBlock() != nextBlock
                        || count < 0 || count > blockCount - nextBlock
                        || count != raw / bs + (raw % bs != 0 ? 1 : 0) || r.reserved() != 0) {
                    throw damagedIndex("stream " + s + " has a bad record");
                }
                streams[s] = new StreamInfo(string(r.nameOffset(), r.nameLength(), "stream name"), c, bs, raw, r.firstBlock(), count);
                total += raw;
                nextBlock += count;
            }
            if (nextBlock != blockCount || total != dataLength) {
                throw damagedIndex("streams do not add up to the blocks and the data length");
            }
            int largest = 0;
            for (StreamInfo s : streams) {
                largest = Math.max(largest, s.blockSize());
            }
            if (blockSize != 0 && blockSize != largest) {
                throw new ImageException("damaged image header (block size " + blockSize
                        + " is not the largest stream block size, " + largest + ")");
            }
        }
        blockStream = new int[blockCount];
        for (int s = 0; s < streams.length; s++) {
            Arrays.fill(blockStream, streams[s].firstBlock(), streams[s].firstBlock() + streams[s].blockCount(), s);
        }

        blocks = new BlockRecord[blockCount];
        for (int b = 0; b < blockCount; b++) {
            BlockRecord r = BlockRecord.decode(index.array(), (int) ih.blocksAt() + b * BlockRecord.SIZE);
            blocks[b] = r;
            long len = Integer.toUnsignedLong(r.storedLength());
            StreamInfo stream = streams[blockStream[b]];
            int bs = stream.blockSize();
            long rawLength = stream.rawLengthOf(b - stream.firstBlock());
            // Compared by subtraction: an offset near 2^63 must not wrap round and pass.
            if (r.offset() < Header.SIZE || len > indexOffset - r.offset()
                    || (r.flags() & ~BlockRecord.FLAG_RAW) != 0
                    || len > bs + (long) (bs >> 4) + 4096
                    || rawLength > (r.isRaw() ? Codec.NONE : stream.codec()).maxRawLength(len)) {
                throw damagedIndex("block " + b + " has a bad record");
            }
        }

        entries = new ImageEntry[entryCount];
        nameOffsets = new int[entryCount];
        nameLengths = new int[entryCount];
        // Every command reads all entries at its start, while the JVM still interprets this loop:
        // the records are decoded from the index's bytes (see ImageLayout.u32), and names only
        // when asked for.
        byte[] b = index.array();
        int entriesAt = (int) ih.entriesAt();
        for (int i = 0; i < entryCount; i++) {
            EntryRecord r = EntryRecord.decode(b, entriesAt + i * EntryRecord.SIZE);
            if (i == 0 ? r.parent() != 0 || r.nameLength() != 0 : !ImageFormat.validName(strings, r.nameOffset(), r.nameLength())) {
                throw damagedIndex("entry " + i + " has a bad name");
            }
            nameOffsets[i] = r.nameOffset();
            nameLengths[i] = r.nameLength();
            int childCount = r.childCountOrLayout();
            int stream = 0;
            int transform = ImageFormat.TRANSFORM_IDENTITY;
            if (!v1 && (r.mode() & ImageFormat.S_IFMT) == ImageFormat.S_IFREG) {
                // Version 2: a regular file's child count field is its layout word.
                transform = ImageLayout.transformOf(childCount);
                stream = ImageLayout.streamOf(childCount);
                if (ImageLayout.layoutReserved(childCount) != 0 || stream >= streams.length) {
                    throw damagedIndex("file entry " + i + " has an unknown layout");
                }
                childCount = 0;
            }
            entries[i] = new ImageEntry(i, r.parent(), strings, r.nameOffset(), r.nameLength(), r.mode(), r.uid(), r.gid(),
                    r.mtimeSeconds(), r.mtimeNanos(), childCount, r.size(), r.location(), stream, transform);
        }
        checkTree();
    }

    private static ImageException damagedIndex(String why) {
        return new ImageException("damaged image index (" + why + ")");
    }

    private String string(long offset, long length, String what) throws ImageException {
        if (offset < 0 || length < 0 || offset > strings.length || length > strings.length - offset) {
            throw damagedIndex(what + " lies outside the string table");
        }
        return new String(strings, (int) offset, (int) length, StandardCharsets.UTF_8);
    }

    /** The structural rules of FORMAT.md, "Entry table": one parent each, sorted unique names. */
    private void checkTree() throws ImageException {
        int n = entries.length;
        boolean[] claimed = new boolean[n];
        claimed[0] = true;
        for (ImageEntry e : entries) {
            if ((e.mode() & ~(ImageFormat.S_IFMT | 07777)) != 0) {
                throw damagedIndex("entry " + e.index + " has mode bits outside type and permissions");
            }
            int type = e.mode() & ImageFormat.S_IFMT;
            if (type == ImageFormat.S_IFDIR) {
                if (e.size() != 0 || e.childCount < 0
                        || (e.childCount > 0 && (e.location <= e.index || e.location > n || e.childCount > n - e.location))) {
                    throw damagedIndex("directory entry " + e.index + " has bad children");
                }
                for (int c = 0; c < e.childCount; c++) {
                    int ci = (int) e.location + c;
                    if (claimed[ci] || entries[ci].parent != e.index) {
                        throw damagedIndex("entry " + ci + " is claimed twice or names another parent");
                    }
                    claimed[ci] = true;
                    if (c > 0 && compareNames(ci - 1, ci) >= 0) {
                        throw damagedIndex("names in directory entry " + e.index + " are not sorted or repeat");
                    }
                }
            } else if (e.childCount != 0 || e.index == 0) {
                throw damagedIndex("entry " + e.index + " has children but is not a directory");
            } else if (type == ImageFormat.S_IFREG) {
                checkFileLayout(e);
            } else if (type == ImageFormat.S_IFLNK) {
                if (e.size() < 1 || e.size() > ImageFormat.MAX_LINK_TARGET || e.location < 0 || e.location > strings.length
                        || e.size() > strings.length - e.location) {
                    throw damagedIndex("link entry " + e.index + " has a bad target");
                }
                for (long i = e.location; i < e.location + e.size(); i++) {
                    if (strings[(int) i] == 0) {
                        throw damagedIndex("link entry " + e.index + " has a NUL in its target");
                    }
                }
            } else {
                throw damagedIndex("entry " + e.index + " has an unknown type");
            }
            if (e.mtimeNanos() < 0 || e.mtimeNanos() > 999_999_999) {
                throw damagedIndex("entry " + e.index + " has a bad mtime");
            }
        }
        for (int i = 0; i < n; i++) {
            if (!claimed[i]) {
                throw damagedIndex("entry " + i + " belongs to no directory");
            }
        }
    }

    /**
     * A regular file's transform must be known and the ranges it reads must lie in their
     * streams (FORMAT.md, Entry table): one case per transform, as in ModuleImage.content.
     */
    private void checkFileLayout(ImageEntry e) throws ImageException {
        switch (e.transform) {
            case ImageFormat.TRANSFORM_IDENTITY -> {
                long streamLength = streams[e.stream].rawLength();
                if (e.size() < 0 || e.location < 0 || e.location > streamLength || e.size() > streamLength - e.location) {
                    throw damagedIndex("file entry " + e.index + " lies outside the data");
                }
            }
            case ImageFormat.TRANSFORM_ELF -> {
                // Six streams from the layout word's; the parts' lengths come from part 0, read
                // with the file: ElfJoin checks them then.
                if (e.stream > streams.length - ElfJoin.PARTS || e.size() < 0 || e.size() > ImageFormat.ELF_MAX_FILE
                        || e.location < 0 || e.location > strings.length - ImageFormat.ELF_START_ROW) {
                    throw damagedIndex("file entry " + e.index + " has a bad ELF part start row");
                }
                long[] starts = elfStarts(e);
                for (int i = 0; i < starts.length; i++) {
                    if (starts[i] < 0 || starts[i] > streams[e.stream + i].rawLength()) {
                        throw damagedIndex("file entry " + e.index + " has part " + i + " outside its stream");
                    }
                }
            }
            default -> throw damagedIndex("file entry " + e.index + " has an unknown layout");
        }
    }

    /** The size of the largest transform 1 file, -1 when there is none. */
    long largestElfFile() {
        long largest = -1;
        for (ImageEntry e : entries) {
            if (e.isRegularFile() && e.transform == ImageFormat.TRANSFORM_ELF) {
                largest = Math.max(largest, e.size());
            }
        }
        return largest;
    }

    /** Where a transform 1 file's six parts start in their streams: its part start row. */
    long[] elfStarts(ImageEntry e) {
        ByteBuffer row = ImageLayout.littleEndian(strings);
        long[] starts = new long[ElfJoin.PARTS];
        for (int i = 0; i < starts.length; i++) {
            starts[i] = row.getLong((int) e.location + 8 * i);
        }
        return starts;
    }

    private int compareNames(int a, int b) {
        return Arrays.compareUnsigned(strings, nameOffsets[a], nameOffsets[a] + nameLengths[a],
                strings, nameOffsets[b], nameOffsets[b] + nameLengths[b]);
    }

    // ---- the tree ------------------------------------------------------------------------------

    int entryCount() {
        return entries.length;
    }

    ImageEntry root() {
        return entries[0];
    }

    /** The entry with this inode number, or null. */
    ImageEntry entry(long inode) {
        return inode >= 1 && inode <= entries.length ? entries[(int) (inode - 1)] : null;
    }

    ImageEntry parent(ImageEntry e) {
        return entries[e.parent];
    }

    /** All entries, parents before children. */
    List<ImageEntry> entries() {
        return Collections.unmodifiableList(Arrays.asList(entries));
    }

    /**
     * Looks a path up, relative to the tree's root; a leading '/', repeated '/' and "."
     * components are ignored; ".." is not resolved (returns null). Symbolic links are not
     * followed. Returns null when there is no such entry.
     */
    ImageEntry lookup(String path) {
        ImageEntry cur = entries[0];
        int i = 0;
        int n = path.length();
        while (i < n) {
            int slash = path.indexOf('/', i);
            int end = slash < 0 ? n : slash;
            if (end > i && !(end - i == 1 && path.charAt(i) == '.')) {
                if (!cur.isDirectory()) {
                    return null;
                }
                cur = child(cur, path.substring(i, end).getBytes(StandardCharsets.UTF_8));
                if (cur == null) {
                    return null;
                }
            }
            i = end + 1;
        }
        return cur;
    }

    /** The child of a directory with this name (raw bytes), or null; binary search by byte order. */
    ImageEntry child(ImageEntry dir, byte[] name) {
        if (!dir.isDirectory()) {
            return null;
        }
        int lo = (int) dir.location;
        int hi = lo + dir.childCount - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            int off = nameOffsets[mid];
            int c = Arrays.compareUnsigned(strings, off, off + nameLengths[mid], name, 0, name.length);
            if (c < 0) {
                lo = mid + 1;
            } else if (c > 0) {
                hi = mid - 1;
            } else {
                return entries[mid];
            }
        }
        return null;
    }

    /** The entries of a directory in byte order of their names; empty for non-directories. */
    List<ImageEntry> list(ImageEntry dir) {
        if (!dir.isDirectory() || dir.childCount == 0) {
            return List.of();
        }
        return Collections.unmodifiableList(Arrays.asList(entries).subList((int) dir.location, (int) dir.location + dir.childCount));
    }

    /** The path of an entry relative to the root, '/'-separated; empty for the root. */
    String path(ImageEntry e) {
        if (e.index == 0) {
            return "";
        }
        List<String> parts = new ArrayList<>();
        for (ImageEntry cur = e; cur.index != 0; cur = entries[cur.parent]) {
            parts.add(cur.name());
        }
        Collections.reverse(parts);
        return String.join("/", parts);
    }

    /** The raw bytes of an entry's name, as stored (empty for the root). */
    byte[] nameBytes(ImageEntry e) {
        return Arrays.copyOfRange(strings, nameOffsets[e.index], nameOffsets[e.index] + nameLengths[e.index]);
    }

    /** The raw bytes of a link target, as stored. */
    byte[] readlinkBytes(ImageEntry link) throws ImageException {
        if (!link.isSymlink()) {
            throw new ImageException(path(link) + ": not a symbolic link");
        }
        return Arrays.copyOfRange(strings, (int) link.location, (int) (link.location + link.size()));
    }

    // ---- helpers -------------------------------------------------------------------------------

    static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new EOFException();
            }
            pos += n;
        }
    }
}

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import kmodpack.image.ImageLayout;
import kmodpack.image.ImageLayout.BlockRecord;
import kmodpack.image.ImageLayout.EntryRecord;
import kmodpack.image.ImageLayout.Header;
import kmodpack.image.ImageLayout.IndexHeader;
import kmodpack.image.ImageLayout.StreamRecord;

/**
 * Picks byte offsets that damage one file of a kmodpack image and nothing else the test loads.
 *
 * Usage: java -cp kmodpack.jar DamageOffsets.java IMAGE TARGET [KEEP...]
 *
 * Reads the image by docs/FORMAT.md (through the format's record layouts, kmodpack.image.ImageLayout,
 * but not through kmodpack's reader or its checks), finds the stored blocks
 * holding TARGET (a path inside the tree), refuses if any of them also holds a byte of a KEEP file,
 * and prints one offset per block, in the middle of its stored bytes, where the byte is not 0x55
 * (the guest writes 0x55 there).
 */
public final class DamageOffsets {
    record Entry(int parent, String name, int mode, int childCount, long size, long location) {}
    /** A stream (version 2; a version 1 image is one stream): block size and first block. */
    record Stream(long blockSize, long firstBlock) {}
    record Block(long offset, int storedLength) {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: DamageOffsets IMAGE TARGET [KEEP...]");
            System.exit(2);
        }
        try (FileChannel ch = FileChannel.open(Path.of(args[0]), StandardOpenOption.READ)) {
            byte[] hb = read(ch, 0, Header.SIZE).array();
            if (!Header.hasMagic(hb)) {
                throw new IOException("not a kmodpack image");
            }
            Header h = Header.decode(hb);
            int major = h.major();
            byte[] stored = read(ch, h.indexOffset(), Math.toIntExact(h.indexStoredLength())).array();
            ByteBuffer ix = ByteBuffer.wrap(decode(h.indexCodec(), stored, h.indexRawLength())).order(ByteOrder.LITTLE_ENDIAN);
            IndexHeader ih = IndexHeader.decode(ix, major);
            int entryCount = ih.entryCount(), blockCount = ih.blockCount();
            List<Stream> streams = new ArrayList<>();
            for (int s = 0; s < ih.streamCount(); s++) {
                StreamRecord r = StreamRecord.decode(ix, ih.streamsAt() + StreamRecord.SIZE * s);
                streams.add(new Stream(r.blockSize() & 0xffffffffL, r.firstBlock() & 0xffffffffL));
            }
            if (major == 1) {
                streams.add(new Stream(h.blockSize() & 0xffffffffL, 0));
            }
            List<Block> blocks = new ArrayList<>();
            for (int i = 0; i < blockCount; i++) {
                BlockRecord r = BlockRecord.decode(ix, ih.blocksAt() + BlockRecord.SIZE * i);
                blocks.add(new Block(r.offset(), r.storedLength()));
            }
            List<Entry> entries = new ArrayList<>();
            for (int i = 0; i < entryCount; i++) {
                EntryRecord r = EntryRecord.decode(ix, Math.toIntExact(ih.entriesAt() + (long) EntryRecord.SIZE * i));
                byte[] name = new byte[r.nameLength()];
                ix.get(Math.toIntExact(ih.stringsAt() + r.nameOffset()), name);
                entries.add(new Entry(r.parent(), new String(name, StandardCharsets.UTF_8), r.mode(),
                        r.childCountOrLayout(), r.size(), r.location()));
            }
            // Version 2: a regular file's child count field is its layout word, stream in bits 8-23.
            for (int i = 0; i < entryCount; i++) {
                Entry en = entries.get(i);
                if (major != 1 && (en.mode() & 0170000) == 0100000 && ImageLayout.transformOf(en.childCount()) != 0) {
                    throw new IOException(en.name() + ": transform " + ImageLayout.transformOf(en.childCount()) + " is not handled here");
                }
            }
            TreeSet<Long> keep = new TreeSet<>();
            for (int k = 2; k < args.length; k++) {
                keep.addAll(blocksOf(find(entries, args[k]), streams, major));
            }
            StringBuilder out = new StringBuilder();
            for (long b : blocksOf(find(entries, args[1]), streams, major)) {
                if (keep.contains(b)) {
                    throw new IOException("block " + b + " of " + args[1] + " also holds a file to keep");
                }
                Block blk = blocks.get(Math.toIntExact(b));
                long off = blk.offset() + blk.storedLength() / 2;
                while (read(ch, off, 1).get(0) == 0x55) {
                    off++;
                }
                out.append(off).append(' ');
            }
            System.out.println(out.toString().trim());
        }
    }

    static List<Long> blocksOf(Entry e, List<Stream> streams, int major) throws IOException {
        if ((e.mode() & 0170000) != 0100000 || e.size() == 0) {
            throw new IOException(e.name() + " is not a non-empty regular file");
        }
        Stream s = streams.get(major == 1 ? 0 : ImageLayout.streamOf(e.childCount()));
        long blockSize = s.blockSize();
        List<Long> r = new ArrayList<>();
        for (long b = e.location() / blockSize; b <= (e.location() + e.size() - 1) / blockSize; b++) {
            r.add(s.firstBlock() + b);
        }
        return r;
    }

    static Entry find(List<Entry> entries, String path) throws IOException {
        int cur = 0;
        for (String part : path.split("/")) {
            if (part.isEmpty()) {
                continue;
            }
            Entry dir = entries.get(cur);
            int found = -1;
            for (int c = 0; c < dir.childCount(); c++) {
                int i = Math.toIntExact(dir.location() + c);
                if (entries.get(i).name().equals(part)) {
                    found = i;
                }
            }
            if (found < 0) {
                throw new IOException(path + ": no such file in the image");
            }
            cur = found;
        }
        return entries.get(cur);
    }

    static byte[] decode(int codec, byte[] stored, int rawLength) throws IOException {
        switch (codec) {
            case 0:
                return stored;
            case 1:
                return net.jpountz.lz4.LZ4Factory.fastestJavaInstance().safeDecompressor().decompress(stored, rawLength);
            case 2:
                try (InputStream in = new org.tukaani.xz.LZMA2InputStream(new ByteArrayInputStream(stored),
                        Math.max(rawLength, 4096))) {
                    return in.readNBytes(rawLength);
                }
            default:
                throw new IOException("unknown index codec " + codec);
        }
    }

    static ByteBuffer read(FileChannel ch, long pos, int len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw new IOException("image ends early");
            }
        }
        return b.flip();
    }
}

package kmodpack.image;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;

import kmodpack.image.ImageLayout.BlockRecord;

/**
 * The compressed blocks of an image, read through one file handle (positional reads, so
 * threads share it): each block's stored checksum checked before decoding and its raw checksum
 * after, decoded by its stream's codec, kept in a small cache of decoded blocks, and decoded
 * once when several threads want it at the same time. Reads of a stream range decode the
 * blocks of a long range on spare cores and only the prefix of a block the range ends in.
 */
final class BlockStore implements Closeable {
    /** Decoded blocks kept for reuse: sequential reads in small pieces (FUSE) hit the cache. */
    private static final long DEFAULT_CACHE_BYTES = 16L << 20;

    private final FileChannel channel;
    private final StreamInfo[] streams;
    private final BlockRecord[] blocks;
    private final int[] blockStream;

    private final Map<Integer, byte[]> cache = new LinkedHashMap<>(16, 0.75f, true);
    /** Whole blocks: threads that want the same block at once share one decode (under the cache's lock). */
    private final SharedWork<Integer, byte[]> wholeBlocks = new SharedWork<>("block", cache, new SharedWork.Cache<>() {
        @Override
        public byte[] find(Integer b) {
            byte[] hit = cache.get(b);
            return hit != null && hit.length == rawLength(b) ? hit : null;     // a shorter one is a prefix
        }

        @Override
        public void store(Integer b, byte[] raw) {
            cache.put(b, raw);
            evict();
        }
    });
    private final int cacheCapacity;

    BlockStore(FileChannel channel, ImageIndex index) {
        this.channel = channel;
        this.streams = index.streams;
        this.blocks = index.blocks;
        this.blockStream = index.blockStream;
        int largest = ImageFormat.MIN_BLOCK_SIZE;
        for (StreamInfo s : streams) {
            largest = Math.max(largest, s.blockSize());
        }
        cacheCapacity = (int) Math.max(2, DEFAULT_CACHE_BYTES / largest);
    }

    int blockCount() {
        return blocks.length;
    }

    int rawLength(int b) {
        StreamInfo stream = streams[blockStream[b]];
        return stream.rawLengthOf(b - stream.firstBlock());
    }

    // ---- stream ranges -------------------------------------------------------------------------

    /**
     * Copies stream bytes {@code [pos, pos + len)} into {@code dst}, block by block through the
     * cache: the read for small pieces (FUSE, index lookups). The range must lie in the stream.
     */
    void read(StreamInfo stream, long pos, byte[] dst, int off, int len) throws IOException {
        read(stream, pos, dst, off, len, pos + len);
    }

    /**
     * Like {@link #read(StreamInfo, long, byte[], int, int)}, where the caller will probably
     * want stream bytes up to {@code until} (its file's end): a block is decoded as far as that
     * and no further, and the prefix kept in the cache for the reads that follow. A random
     * reader of one module then decodes from its block's start to the module's end, not the
     * whole block.
     */
    void read(StreamInfo stream, long pos, byte[] dst, int off, int len, long until) throws IOException {
        int blockSize = stream.blockSize();
        long end = pos + len;
        while (pos < end) {
            int within = (int) (pos % blockSize);
            long blockStart = pos - within;
            int need = (int) Math.min(blockSize, Math.max(end, until) - blockStart);
            byte[] raw = atLeast(stream.blockAt(pos), need);
            int take = (int) Math.min(Math.min(raw.length, need) - within, end - pos);
            System.arraycopy(raw, within, dst, off, take);
            off += take;
            pos += take;
        }
    }

    /**
     * Copies stream bytes {@code [start, start + len)} into {@code out} at {@code outOff}: the
     * read for whole files. The blocks of a range that spans several are decoded on spare cores
     * at the same time, and the block it ends in only as far as the range goes.
     */
    void readRange(StreamInfo stream, long start, byte[] out, int outOff, int len) throws IOException {
        if (len == 0) {
            return;
        }
        int blockSize = stream.blockSize();
        long end = start + len;
        int first = (int) (start / blockSize);
        int count = (int) ((end - 1) / blockSize) - first + 1;
        AtomicInteger next = new AtomicInteger();
        // Each worker takes the next block not yet taken: the caller, plus helpers on spare cores.
        // (A named class, not a lambda: see block().)
        Callable<Void> worker = new Callable<>() {
            @Override
            public Void call() throws IOException {
                for (int k; (k = next.getAndIncrement()) < count; ) {
                    int b = stream.firstBlock() + first + k;
                    long blockStart = (long) (first + k) * blockSize;
                    int need = (int) Math.min(blockSize, end - blockStart);
                    byte[] raw = atLeast(b, need);
                    int from = (int) Math.max(0, start - blockStart);
                    System.arraycopy(raw, from, out, outOff + (int) (blockStart + from - start), need - from);
                }
                return null;
            }
        };
        SpareCores.run(count - 1, "reading " + stream.name(), worker);
    }

    // ---- blocks --------------------------------------------------------------------------------

    /**
     * At least the first {@code need} decoded bytes of a block: the cached block or a cached
     * prefix long enough, else a prefix decoded now and cached (replacing a shorter one). Only
     * LZMA2 stops early; a block of another codec, or one needed mostly whole, is decoded whole.
     */
    byte[] atLeast(int b, int need) throws IOException {
        int rawLength = rawLength(b);
        if (need >= rawLength - rawLength / 4 || blocks[b].isRaw() || streams[blockStream[b]].codec() != Codec.XZ) {
            return block(b);
        }
        boolean beingDecoded;
        synchronized (cache) {
            byte[] hit = cache.get(b);
            if (hit != null && hit.length >= need) {
                return hit;
            }
            beingDecoded = wholeBlocks.isRunning(b);
        }
        if (beingDecoded) {
            return block(b);    // read-ahead is decoding it whole already: share that
        }
        byte[] prefix = decodeBlock(b, need);
        synchronized (cache) {
            byte[] hit = cache.get(b);
            if (hit != null && hit.length >= need) {
                return hit;     // a longer one landed meanwhile
            }
            cache.put(b, prefix);
            evict();
        }
        return prefix;
    }

    private void evict() {
        if (cache.size() > cacheCapacity) {
            var it = cache.entrySet().iterator();
            it.next();
            it.remove();
        }
    }

    /**
     * The decoded, checked bytes of a block, from the cache where possible. Threads that want
     * the same block at once share one decode.
     */
    byte[] block(int b) throws IOException {
        // A named class, not a lambda: a short command's first lambda costs about 10 ms of
        // method-handle set-up in a fresh JVM, and every read comes here.
        return wholeBlocks.get(b, new SharedWork.Work<byte[]>() {
            @Override
            public byte[] run() throws IOException {
                return decodeBlock(b, rawLength(b));
            }
        });
    }

    /** Whether a block is decoded whole in the cache or being decoded. */
    boolean isCached(int b) {
        synchronized (cache) {
            byte[] hit = cache.get(b);
            return hit != null && hit.length == rawLength(b) || wholeBlocks.isRunning(b);
        }
    }

    /**
     * Decodes a block into the cache unless it is there already: read-ahead, run on a spare
     * thread. A damaged block is left for the read that needs it to report.
     */
    void preload(int b) {
        if (b < 0 || b >= blocks.length) {
            return;
        }
        try {
            block(b);
        } catch (IOException e) {
            // reported by the read that needs this block
        }
    }

    /**
     * Reads, checks and decodes the first {@code need} bytes of a block, without touching the
     * cache. The stored checksum is always checked; the raw one only when the whole block is
     * decoded (it covers the whole block), which FORMAT.md allows.
     */
    byte[] decodeBlock(int b, int need) throws IOException {
        BlockRecord r = blocks[b];
        int stored = r.storedLength();
        byte[] buf = new byte[stored];
        try {
            ImageIndex.readFully(channel, ByteBuffer.wrap(buf), r.offset());
        } catch (EOFException e) {
            throw new ImageException("block " + b + " is cut off: the image was truncated");
        }
        if (ImageLayout.crc(buf, 0, stored) != r.storedCrc()) {
            throw new ImageException("damaged block " + b + " (checksum mismatch)");
        }
        int rawLength = rawLength(b);
        boolean whole = need >= rawLength;
        byte[] raw = new byte[whole ? rawLength : need];
        StreamInfo stream = streams[blockStream[b]];
        int blockSize = stream.blockSize();
        Codec c = r.isRaw() ? Codec.NONE : stream.codec();
        try {
            if (whole) {
                c.decompress(buf, stored, raw, rawLength, blockSize);
            } else {
                c.decompressPrefix(buf, stored, raw, need, rawLength, blockSize);
            }
        } catch (ImageException | RuntimeException e) {
            throw new ImageException("damaged block " + b + " (" + e.getMessage() + ")", e);
        }
        if (whole && ImageLayout.crc(raw, 0, rawLength) != r.rawCrc()) {
            throw new ImageException("damaged block " + b + " (checksum mismatch after decoding)");
        }
        return raw;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}

package kmodpack.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import kmodpack.image.ImageLayout.BlockRecord;
import kmodpack.image.ImageLayout.EntryRecord;
import kmodpack.image.ImageLayout.IndexHeader;
import kmodpack.image.ImageLayout.StreamRecord;

/**
 * Writes an image (docs/FORMAT.md) from a tree of {@link Node}s. File contents are streamed
 * through a fixed number of block buffers, so memory stays bounded whatever the tree's size;
 * blocks are compressed on several threads but written in order, so the output does not depend
 * on the thread count.
 */
public final class ImageWriter {

    /** Where a regular file's bytes come from. Called once, in data order. */
    @FunctionalInterface
    public interface Content {
        InputStream open() throws IOException;
    }

    /** Told about progress: bytes of file content consumed so far, of the total. */
    @FunctionalInterface
    public interface Progress {
        void update(long doneBytes, long totalBytes);
    }

    /**
     * How to pack: the codec, level and block size of the data stream, the compressing threads,
     * and the format version to write ({@link ImageFormat#MAJOR}, or 1 for the first version).
     */
    public record Options(Codec codec, int level, int blockSize, int threads, int major) {
        public Options {
            Objects.requireNonNull(codec);
            if (!ImageFormat.validBlockSize(blockSize)) {
                throw new IllegalArgumentException("block size must be a power of two from 4 KiB to 64 MiB");
            }
            if (level < codec.minLevel || level > codec.maxLevel) {
                throw new IllegalArgumentException(codec.displayName() + " level must be from "
                        + codec.minLevel + " to " + codec.maxLevel);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("thread count must be at least 1");
            }
            if (major != ImageFormat.MAJOR && major != ImageFormat.MAJOR_V1) {
                throw new IllegalArgumentException("format version " + major + " cannot be written");
            }
        }

        public Options(Codec codec, int level, int blockSize, int threads) {
            this(codec, level, blockSize, threads, ImageFormat.MAJOR);
        }
    }

    /** One entry of the tree to write. Children of a directory may be added in any order. */
    public static final class Node {
        final byte[] name;
        final int mode;
        final int uid;
        final int gid;
        final long mtimeSeconds;
        final int mtimeNanos;
        final long size;
        final byte[] linkTarget;
        final Content content;
        final List<Node> children;

        private Node(byte[] name, int mode, int uid, int gid, long mtimeSeconds, int mtimeNanos, long size,
                     byte[] linkTarget, Content content, List<Node> children) {
            if (mtimeNanos < 0 || mtimeNanos > 999_999_999) {
                throw new IllegalArgumentException("bad mtime nanoseconds");
            }
            this.name = name;
            this.mode = mode;
            this.uid = uid;
            this.gid = gid;
            this.mtimeSeconds = mtimeSeconds;
            this.mtimeNanos = mtimeNanos;
            this.size = size;
            this.linkTarget = linkTarget;
            this.content = content;
            this.children = children;
        }

        public static Node directory(String name, int permissions, int uid, int gid, long mtimeSeconds, int mtimeNanos) {
            return new Node(checkName(name), ImageFormat.S_IFDIR | (permissions & 07777), uid, gid,
                    mtimeSeconds, mtimeNanos, 0, null, null, new ArrayList<>());
        }

        public static Node file(String name, int permissions, int uid, int gid, long mtimeSeconds, int mtimeNanos,
                                long size, Content content) {
            if (size < 0) {
                throw new IllegalArgumentException("negative size");
            }
            return new Node(checkName(name), ImageFormat.S_IFREG | (permissions & 07777), uid, gid,
                    mtimeSeconds, mtimeNanos, size, null, Objects.requireNonNull(content), null);
        }

        public static Node symlink(String name, int permissions, int uid, int gid, long mtimeSeconds, int mtimeNanos,
                                   String target) {
            byte[] t = target.getBytes(StandardCharsets.UTF_8);
            if (t.length < 1 || t.length > ImageFormat.MAX_LINK_TARGET || indexOf(t, (byte) 0) >= 0) {
                throw new IllegalArgumentException("symbolic link " + name + ": bad target");
            }
            return new Node(checkName(name), ImageFormat.S_IFLNK | (permissions & 07777), uid, gid,
                    mtimeSeconds, mtimeNanos, t.length, t, null, null);
        }

        /** Adds a child to this directory; returns the child. */
        public Node add(Node child) {
            if (children == null) {
                throw new IllegalStateException("not a directory");
            }
            children.add(child);
            return child;
        }

        boolean isDirectory() {
            return children != null;
        }

        boolean isFile() {
            return content != null;
        }

        /** Display name for messages. */
        public String name() {
            return new String(name, StandardCharsets.UTF_8);
        }

        private static byte[] checkName(String name) {
            byte[] b = name.getBytes(StandardCharsets.UTF_8);
            // The root's name is empty; every other name is checked when the tree is written.
            if (b.length > ImageFormat.MAX_NAME || indexOf(b, (byte) '/') >= 0 || indexOf(b, (byte) 0) >= 0
                    || name.equals(".") || name.equals("..")) {
                throw new IllegalArgumentException("invalid file name '" + name + "'");
            }
            return b;
        }

        private static int indexOf(byte[] b, byte v) {
            for (int i = 0; i < b.length; i++) {
                if (b[i] == v) {
                    return i;
                }
            }
            return -1;
        }
    }

    /** What was written. */
    public record Summary(int entries, int files, long dataLength, long imageLength, int blocks) {
    }

    private static final Comparator<Node> BY_NAME = (a, b) -> Arrays.compareUnsigned(a.name, b.name);

    private final Options options;

    public ImageWriter(Options options) {
        this.options = options;
    }

    /**
     * Writes the image of the tree under {@code root} (the version directory) to {@code out},
     * starting at position 0. The channel is not forced or closed.
     */
    public Summary write(Node root, String kernelVersion, FileChannel out, Progress progress) throws IOException {
        if (!root.isDirectory()) {
            throw new IllegalArgumentException("the root must be a directory");
        }
        if (!ImageFormat.validKernelVersion(kernelVersion)) {
            throw new IllegalArgumentException("'" + kernelVersion + "' is not a kernel version (1-255 bytes, no '/', not . or ..)");
        }
        // Breadth-first order gives each directory a consecutive run of children (FORMAT.md).
        List<Node> order = new ArrayList<>();
        order.add(root);
        for (int i = 0; i < order.size(); i++) {
            Node n = order.get(i);
            if (n.isDirectory()) {
                n.children.sort(BY_NAME);
                for (int c = 0; c < n.children.size(); c++) {
                    Node child = n.children.get(c);
                    if (child.name.length == 0) {
                        throw new IllegalArgumentException("empty file name");
                    }
                    if (c > 0 && BY_NAME.compare(n.children.get(c - 1), child) == 0) {
                        throw new IllegalArgumentException("duplicate name '" + child.name() + "'");
                    }
                    order.add(child);
                }
            }
        }
        // Data in depth-first order: files of one directory sit together and compress together.
        // Version 2 takes the hot files out into a stream of their own (FORMAT.md, Streams).
        List<Node> dataOrder = new ArrayList<>();
        collectFiles(root, dataOrder);
        boolean v2 = options.major() == ImageFormat.MAJOR;
        List<Node> hot = new ArrayList<>();
        if (v2) {
            for (Node c : root.children) {
                if (c.isFile() && ImageFormat.isHot(c.name())) {
                    hot.add(c);
                }
            }
            dataOrder.removeAll(hot);
        }
        java.util.IdentityHashMap<Node, Integer> indexOf = new java.util.IdentityHashMap<>();
        for (int i = 0; i < order.size(); i++) {
            indexOf.put(order.get(i), i);
        }
        // The data stream first, so its blocks start the file as in version 1; the hot stream after.
        List<StreamPlan> streams = new ArrayList<>();
        streams.add(new StreamPlan(ImageFormat.DATA_STREAM, options.codec(), options.level(), options.blockSize(), dataOrder));
        if (v2) {
            Codec hotCodec = options.codec() == Codec.NONE ? Codec.NONE : Codec.LZ4;
            streams.add(new StreamPlan(ImageFormat.HOT_STREAM, hotCodec,
                    hotCodec == Codec.LZ4 ? ImageFormat.HOT_LZ4_LEVEL : 0, ImageFormat.HOT_BLOCK_SIZE, hot));
        }
        int[] fileStream = new int[order.size()];
        long[] dataOffset = new long[order.size()];
        long total = 0;
        for (int s = 0; s < streams.size(); s++) {
            long at = 0;
            for (Node f : streams.get(s).files()) {
                fileStream[indexOf.get(f)] = s;
                dataOffset[indexOf.get(f)] = at;
                at += f.size;
            }
            streams.get(s).rawLength = at;
            total += at;
        }

        out.position(ImageLayout.Header.SIZE);
        List<BlockRecord> blocks = new ArrayList<>();
        long[] done = {0};
        for (StreamPlan sp : streams) {
            sp.firstBlock = blocks.size();
            writeData(sp, total, done, out, progress, blocks);
        }
        long indexOffset = out.position();

        byte[] index = v2 ? buildIndexV2(order, indexOf, fileStream, dataOffset, streams, blocks, kernelVersion)
                : buildIndex(order, indexOf, dataOffset, blocks, kernelVersion);
        Codec indexCodec = options.codec();
        byte[] stored = indexCodec.compress(index, index.length, options.level(), Math.max(index.length, 1));
        if (stored == null) {
            indexCodec = Codec.NONE;
            stored = index;
        }
        writeFully(out, ByteBuffer.wrap(stored));

        // Version 2 keeps codecs and block sizes per stream in the index; the header's block size
        // is the largest of them, so tools can size their memory from the first 64 bytes.
        int largestBlock = 0;
        for (StreamPlan sp : streams) {
            largestBlock = Math.max(largestBlock, sp.blockSize);
        }
        byte[] header = new ImageLayout.Header(options.major(), ImageFormat.MINOR, v2 ? 0 : options.codec().id,
                indexCodec.id, v2 ? largestBlock : options.blockSize(), total, indexOffset, stored.length, index.length,
                ImageLayout.crc(stored, 0, stored.length), ImageLayout.crc(index, 0, index.length)).encode();
        long end = out.position();
        out.position(0);
        writeFully(out, ByteBuffer.wrap(header));
        out.position(end);
        return new Summary(order.size(), dataOrder.size() + hot.size(), total, end, blocks.size());
    }

    /** One stream being written: its files in stream order; the rest is filled in as it is written. */
    private static final class StreamPlan {
        final String name;
        final Codec codec;
        final int level;
        final int blockSize;
        final List<Node> files;
        long rawLength;
        int firstBlock;
        int blockCount;

        StreamPlan(String name, Codec codec, int level, int blockSize, List<Node> files) {
            this.name = name;
            this.codec = codec;
            this.level = level;
            this.blockSize = blockSize;
            this.files = files;
        }

        List<Node> files() {
            return files;
        }
    }

    private static void collectFiles(Node dir, List<Node> into) {
        for (Node c : dir.children) {
            if (c.isFile()) {
                into.add(c);
            } else if (c.isDirectory()) {
                collectFiles(c, into);
            }
        }
    }

    private record Compressed(byte[] data, int length, int flags, int storedCrc, int rawCrc) {
    }

    /** Streams one stream's file contents through block buffers; compression runs ahead on a thread pool. */
    private void writeData(StreamPlan stream, long total, long[] done, FileChannel out, Progress progress,
                           List<BlockRecord> records) throws IOException {
        int bs = stream.blockSize;
        int before = records.size();
        int threads = options.threads();
        ExecutorService pool = threads > 1 ? Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "kmodpack-compress");
            t.setDaemon(true);
            return t;
        }) : null;
        // At most 2 blocks per thread in flight: bounds memory to a few block sizes per thread.
        ArrayDeque<Future<Compressed>> inFlight = new ArrayDeque<>();
        int maxInFlight = threads * 2;
        try {
            byte[] buf = new byte[bs];
            int fill = 0;
            byte[] chunk = new byte[Math.min(bs, 1 << 16)];
            for (Node f : stream.files) {
                long remaining = f.size;
                try (InputStream in = f.content.open()) {
                    while (remaining > 0) {
                        int want = (int) Math.min(bs - fill, remaining);
                        int n = in.read(buf, fill, want);
                        if (n < 0) {
                            throw new IOException(f.name() + ": file shrank while it was being packed");
                        }
                        fill += n;
                        remaining -= n;
                        done[0] += n;
                        if (fill == bs) {
                            submit(stream, buf, fill, pool, inFlight, maxInFlight, out, records);
                            buf = new byte[bs];
                            fill = 0;
                            if (progress != null) {
                                progress.update(done[0], total);
                            }
                        }
                    }
                    if (in.read(chunk) >= 0) {
                        throw new IOException(f.name() + ": file grew while it was being packed");
                    }
                }
            }
            if (fill > 0) {
                submit(stream, buf, fill, pool, inFlight, maxInFlight, out, records);
            }
            while (!inFlight.isEmpty()) {
                writeBlock(await(inFlight.poll()), out, records);
            }
            if (progress != null) {
                progress.update(done[0], total);
            }
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
        stream.blockCount = records.size() - before;
    }

    private void submit(StreamPlan stream, byte[] buf, int len, ExecutorService pool, ArrayDeque<Future<Compressed>> inFlight,
                        int maxInFlight, FileChannel out, List<BlockRecord> records) throws IOException {
        if (pool == null) {
            writeBlock(compressBlock(stream, buf, len), out, records);
            return;
        }
        inFlight.add(pool.submit(() -> compressBlock(stream, buf, len)));
        while (inFlight.size() >= maxInFlight) {
            writeBlock(await(inFlight.poll()), out, records);
        }
    }

    private static Compressed compressBlock(StreamPlan stream, byte[] raw, int len) throws IOException {
        int rawCrc = ImageLayout.crc(raw, 0, len);
        byte[] c = stream.codec.compress(raw, len, stream.level, stream.blockSize);
        if (c == null) {
            return new Compressed(raw, len, ImageLayout.BlockRecord.FLAG_RAW, rawCrc, rawCrc);
        }
        return new Compressed(c, c.length, 0, ImageLayout.crc(c, 0, c.length), rawCrc);
    }

    private static Compressed await(Future<Compressed> f) throws IOException {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IOException("compression failed: " + e.getCause(), e.getCause());
        }
    }

    private static void writeBlock(Compressed c, FileChannel out, List<BlockRecord> records) throws IOException {
        long at = out.position();
        writeFully(out, ByteBuffer.wrap(c.data(), 0, c.length()));
        records.add(new BlockRecord(at, c.length(), c.flags(), c.storedCrc(), c.rawCrc()));
    }

    private static byte[] buildIndex(List<Node> order, java.util.IdentityHashMap<Node, Integer> indexOf,
                                     long[] dataOffset, List<BlockRecord> blocks, String kernelVersion) {
        return buildIndex(false, order, indexOf, new int[order.size()], dataOffset, List.of(), blocks, kernelVersion);
    }

    private static byte[] buildIndexV2(List<Node> order, java.util.IdentityHashMap<Node, Integer> indexOf, int[] fileStream,
                                       long[] dataOffset, List<StreamPlan> streams, List<BlockRecord> blocks, String kernelVersion) {
        return buildIndex(true, order, indexOf, fileStream, dataOffset, streams, blocks, kernelVersion);
    }

    /** The index of FORMAT.md: version 1 without the stream table, version 2 with it. */
    private static byte[] buildIndex(boolean v2, List<Node> order, java.util.IdentityHashMap<Node, Integer> indexOf,
                                     int[] fileStream, long[] dataOffset, List<StreamPlan> streams,
                                     List<BlockRecord> blocks, String kernelVersion) {
        // String table: names and link targets in entry order, then the kernel version, then stream names.
        java.io.ByteArrayOutputStream strings = new java.io.ByteArrayOutputStream();
        int n = order.size();
        int[] nameOff = new int[n];
        int[] linkOff = new int[n];
        for (int i = 0; i < n; i++) {
            Node e = order.get(i);
            nameOff[i] = strings.size();
            strings.writeBytes(i == 0 ? new byte[0] : e.name);
            if (e.linkTarget != null) {
                linkOff[i] = strings.size();
                strings.writeBytes(e.linkTarget);
            }
        }
        byte[] version = kernelVersion.getBytes(StandardCharsets.UTF_8);
        int versionOff = strings.size();
        strings.writeBytes(version);
        int[] streamNameOff = new int[streams.size()];
        for (int s = 0; s < streams.size(); s++) {
            streamNameOff[s] = strings.size();
            strings.writeBytes(streams.get(s).name.getBytes(StandardCharsets.US_ASCII));
        }
        byte[] st = strings.toByteArray();

        IndexHeader ih = new IndexHeader(n, blocks.size(), st.length, versionOff, version.length, v2 ? streams.size() : 0);
        ByteBuffer b = ImageLayout.littleEndian(new byte[Math.toIntExact(ih.indexLength())]);
        ih.encode(b);
        for (int s = 0; v2 && s < streams.size(); s++) {
            StreamPlan sp = streams.get(s);
            new StreamRecord(streamNameOff[s], sp.name.length(), sp.codec.id, sp.blockSize, sp.rawLength,
                    sp.firstBlock, sp.blockCount).encode(b, ih.streamsAt() + s * StreamRecord.SIZE);
        }
        for (int k = 0; k < blocks.size(); k++) {
            blocks.get(k).encode(b, ih.blocksAt() + k * BlockRecord.SIZE);
        }
        int entriesAt = (int) ih.entriesAt();
        int[] parent = new int[n];
        for (int i = 0; i < n; i++) {
            Node e = order.get(i);
            if (e.isDirectory()) {
                for (Node c : e.children) {
                    parent[indexOf.get(c)] = i;
                }
            }
        }
        for (int i = 0; i < n; i++) {
            Node e = order.get(i);
            long location = 0;
            int childCount = 0;
            if (e.isDirectory()) {
                childCount = e.children.size();
                location = childCount > 0 ? indexOf.get(e.children.get(0)) : 0;
            } else if (e.isFile()) {
                location = dataOffset[i];
                childCount = v2 ? ImageLayout.layoutWord(ImageFormat.TRANSFORM_IDENTITY, fileStream[i]) : 0;
            } else {
                location = linkOff[i];
            }
            new EntryRecord(parent[i], nameOff[i], i == 0 ? 0 : e.name.length, e.mode, e.uid, e.gid, e.mtimeSeconds,
                    e.mtimeNanos, childCount, e.size, location).encode(b, entriesAt + i * EntryRecord.SIZE);
        }
        b.position((int) ih.stringsAt());
        b.put(st);
        return b.array();
    }

    private static void writeFully(FileChannel out, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }
}

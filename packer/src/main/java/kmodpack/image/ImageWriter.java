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
import kmodpack.image.elf.ElfStreams;

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
    public record Options(Codec codec, int level, int blockSize, int threads, int major, Layout layout) {
        public Options {
            Objects.requireNonNull(codec);
            Objects.requireNonNull(layout);
            if (layout == Layout.ELF && major != ImageFormat.MAJOR) {
                throw new IllegalArgumentException("the ELF layout needs format version " + ImageFormat.MAJOR);
            }
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

        public Options(Codec codec, int level, int blockSize, int threads, int major) {
            this(codec, level, blockSize, threads, major, Layout.PLAIN);
        }

        public Options(Codec codec, int level, int blockSize, int threads) {
            this(codec, level, blockSize, threads, ImageFormat.MAJOR, Layout.PLAIN);
        }

        /** The same options with another layout. */
        public Options withLayout(Layout l) {
            return new Options(codec, level, blockSize, threads, major, l);
        }
    }

    /**
     * Where the cold files go (FORMAT.md, Streams): {@code PLAIN} puts every file whole in the
     * data stream; {@code ELF} cuts each ELF object the ELF streams transform takes into six
     * streams of like sections, and leaves the other files whole in the data stream.
     */
    public enum Layout {
        PLAIN, ELF;

        public String displayName() {
            return name().toLowerCase(java.util.Locale.ROOT);
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
        // The data stream first, so its blocks start the file as in version 1; the hot stream after;
        // with the ELF layout, the six streams of the ELF streams transform after those.
        List<StreamPlan> streams = new ArrayList<>();
        StreamPlan data = new StreamPlan(ImageFormat.DATA_STREAM, options.codec(), options.level(), options.blockSize());
        streams.add(data);
        StreamPlan hotStream = null;
        if (v2) {
            Codec hotCodec = options.codec() == Codec.NONE ? Codec.NONE : Codec.LZ4;
            hotStream = new StreamPlan(ImageFormat.HOT_STREAM, hotCodec,
                    hotCodec == Codec.LZ4 ? ImageFormat.HOT_LZ4_LEVEL : 0, ImageFormat.HOT_BLOCK_SIZE);
            streams.add(hotStream);
        }
        boolean elf = v2 && options.layout() == Layout.ELF;
        int elfFirst = streams.size();
        if (elf) {
            for (String name : ElfStreams.STREAM_NAMES) {
                StreamPlan sp = new StreamPlan(name, options.codec(), options.level(), options.blockSize());
                sp.elfPart = streams.size() - elfFirst;
                streams.add(sp);
            }
        }
        long total = 0;
        for (Node f : dataOrder) {
            total += f.size;
        }
        for (Node f : hot) {
            total += f.size;
        }

        // Per regular file: its layout word and location (FORMAT.md, Entry table). For an ELF
        // file the location is an offset into the part start rows, made absolute in buildIndex.
        int[] layout = new int[order.size()];
        long[] location = new long[order.size()];
        java.io.ByteArrayOutputStream elfStarts = new java.io.ByteArrayOutputStream();
        out.position(ImageLayout.Header.SIZE);
        Blocks blocks = new Blocks(out, options.threads(), total, progress);
        try {
            for (Node f : dataOrder) {
                int i = indexOf.get(f);
                if (elf && f.size <= ELF_MAX_FILE) {
                    byte[] bytes = blocks.readWhole(f);
                    byte[][] parts = ElfStreams.split(bytes);
                    if (parts != null) {
                        if (firstElf == null) {
                            firstElf = Arrays.copyOf(bytes, 20);
                        }
                        layout[i] = ImageLayout.layoutWord(ImageFormat.TRANSFORM_ELF, elfFirst);
                        location[i] = elfStarts.size();
                        ByteBuffer row = ImageLayout.littleEndian(new byte[ImageFormat.ELF_START_ROW]);
                        for (int p = 0; p < parts.length; p++) {
                            StreamPlan sp = streams.get(elfFirst + p);
                            row.putLong(sp.rawLength);
                            blocks.append(sp, parts[p]);
                        }
                        elfStarts.writeBytes(row.array());
                        continue;
                    }
                    location[i] = data.rawLength;
                    blocks.append(data, bytes);
                    continue;
                }
                location[i] = data.rawLength;
                blocks.copy(data, f);
            }
            // Each phase ends its streams' last blocks, so a plain image's blocks lie in stream order.
            for (StreamPlan sp : streams) {
                if (sp != hotStream) {
                    blocks.finish(sp);
                }
            }
            for (Node f : hot) {
                int i = indexOf.get(f);
                layout[i] = ImageLayout.layoutWord(ImageFormat.TRANSFORM_IDENTITY, 1);
                location[i] = hotStream.rawLength;
                blocks.copy(hotStream, f);
            }
            if (hotStream != null) {
                blocks.finish(hotStream);
            }
            blocks.drain();
        } finally {
            blocks.close();
        }
        List<BlockRecord> blockTable = new ArrayList<>();
        long dataLength = 0;
        for (StreamPlan sp : streams) {
            sp.firstBlock = blockTable.size();
            blockTable.addAll(sp.records);
            dataLength += sp.rawLength;
        }
        long indexOffset = out.position();

        byte[] index = buildIndex(v2, order, indexOf, layout, location, streams, blockTable, kernelVersion,
                elfStarts.toByteArray());
        // Version 2 stores the index raw: every command reads all of it at start, and a freshly
        // started JVM decodes Debian's 374 KB index in 25-40 ms of LZMA2 or 15-25 ms of LZ4 (it
        // runs that code interpreted), against a plain read. It costs 0.4% of the image's size
        // (README.md, "Start-up"). A version 1 image is written as the 1.0 writer wrote it.
        Codec indexCodec = v2 ? Codec.NONE : options.codec();
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
        // 2.1 only where a file may use transform 1: a plain image stays readable by 2.0 readers,
        // and the launcher sizes a mount server's heap for joined modules only when it may need it.
        int minor = v2 && options.layout() == Layout.ELF ? ImageFormat.MINOR : 0;
        byte[] header = new ImageLayout.Header(options.major(), minor, v2 ? 0 : options.codec().id,
                indexCodec.id, v2 ? largestBlock : options.blockSize(), dataLength, indexOffset, stored.length, index.length,
                ImageLayout.crc(stored, 0, stored.length), ImageLayout.crc(index, 0, index.length)).encode();
        long end = out.position();
        out.position(0);
        writeFully(out, ByteBuffer.wrap(header));
        out.position(end);
        return new Summary(order.size(), dataOrder.size() + hot.size(), dataLength, end, blockTable.size());
    }

    /**
     * Largest file the writer gives the ELF streams transform: it reads such a file whole
     * (and its parts beside it), so this bounds the memory one file can take.
     */
    static final long ELF_MAX_FILE = 64L << 20;

    /** One stream being written: its block buffer, its length so far and its blocks once written. */
    private static final class StreamPlan {
        final String name;
        final Codec codec;
        final int level;
        final int blockSize;
        final List<BlockRecord> records = new ArrayList<>();
        /** The ELF part this stream holds, or -1. */
        int elfPart = -1;
        byte[] buf;
        int fill;
        long rawLength;
        int firstBlock;

        StreamPlan(String name, Codec codec, int level, int blockSize) {
            this.name = name;
            this.codec = codec;
            this.level = level;
            this.blockSize = blockSize;
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

    /** A block on its way to the file: the stream it belongs to and its compression. */
    private record Pending(StreamPlan stream, Future<Compressed> block) {
    }

    /**
     * Fills the streams' block buffers and writes full blocks to the file, compressed ahead on a
     * thread pool. Blocks are written in the order they fill, whatever their stream, so blocks
     * of different streams may interleave in the file (FORMAT.md allows any stored order); each
     * stream keeps its own list of block records for the block table.
     */
    private final class Blocks implements AutoCloseable {
        private final FileChannel out;
        private final ExecutorService pool;
        /** At most 2 blocks per thread in flight: bounds memory to a few block sizes per thread. */
        private final ArrayDeque<Pending> inFlight = new ArrayDeque<>();
        private final int maxInFlight;
        private final long total;
        private final Progress progress;
        private final byte[] chunk = new byte[1 << 16];
        private long done;

        Blocks(FileChannel out, int threads, long total, Progress progress) {
            this.out = out;
            this.pool = threads > 1 ? Executors.newFixedThreadPool(threads, r -> {
                Thread t = new Thread(r, "kmodpack-compress");
                t.setDaemon(true);
                return t;
            }) : null;
            this.maxInFlight = threads * 2;
            this.total = total;
            this.progress = progress;
        }

        /** Streams a file's content into a stream, checking that its size holds. */
        void copy(StreamPlan stream, Node f) throws IOException {
            long remaining = f.size;
            try (InputStream in = f.content.open()) {
                while (remaining > 0) {
                    if (stream.buf == null) {
                        stream.buf = new byte[stream.blockSize];
                    }
                    int want = (int) Math.min(stream.blockSize - stream.fill, remaining);
                    int n = in.read(stream.buf, stream.fill, want);
                    if (n < 0) {
                        throw new IOException(f.name() + ": file shrank while it was being packed");
                    }
                    stream.fill += n;
                    stream.rawLength += n;
                    remaining -= n;
                    done += n;
                    if (stream.fill == stream.blockSize) {
                        submit(stream);
                    }
                }
                if (in.read(chunk) >= 0) {
                    throw new IOException(f.name() + ": file grew while it was being packed");
                }
            }
        }

        /** A file's whole content (it is at most {@link #ELF_MAX_FILE} bytes), checking its size. */
        byte[] readWhole(Node f) throws IOException {
            byte[] b = new byte[(int) f.size];
            try (InputStream in = f.content.open()) {
                if (in.readNBytes(b, 0, b.length) != b.length) {
                    throw new IOException(f.name() + ": file shrank while it was being packed");
                }
                if (in.read(chunk) >= 0) {
                    throw new IOException(f.name() + ": file grew while it was being packed");
                }
            }
            done += b.length;
            return b;
        }

        void append(StreamPlan stream, byte[] src) throws IOException {
            int at = 0;
            while (at < src.length) {
                if (stream.buf == null) {
                    stream.buf = new byte[stream.blockSize];
                }
                int take = Math.min(stream.blockSize - stream.fill, src.length - at);
                System.arraycopy(src, at, stream.buf, stream.fill, take);
                stream.fill += take;
                stream.rawLength += take;
                at += take;
                if (stream.fill == stream.blockSize) {
                    submit(stream);
                }
            }
        }

        /** Ends a stream: its last, shorter block goes out now. */
        void finish(StreamPlan stream) throws IOException {
            if (stream.fill > 0) {
                submit(stream);
            }
        }

        /** Writes every block still in flight. */
        void drain() throws IOException {
            while (!inFlight.isEmpty()) {
                write(inFlight.poll());
            }
            if (progress != null) {
                progress.update(done, total);
            }
        }

        private void submit(StreamPlan stream) throws IOException {
            byte[] buf = stream.buf;
            int len = stream.fill;
            stream.buf = null;
            stream.fill = 0;
            Codec.XzTuning tuning = elfTuning(stream);
            if (pool == null) {
                writeBlock(stream, compressBlock(stream, tuning, buf, len));
            } else {
                inFlight.add(new Pending(stream, pool.submit(() -> compressBlock(stream, tuning, buf, len))));
                while (inFlight.size() >= maxInFlight) {
                    write(inFlight.poll());
                }
            }
            if (progress != null) {
                progress.update(done, total);
            }
        }

        private void write(Pending p) throws IOException {
            writeBlock(p.stream(), await(p.block()));
        }

        private void writeBlock(StreamPlan stream, Compressed c) throws IOException {
            long at = out.position();
            writeFully(out, ByteBuffer.wrap(c.data(), 0, c.length()));
            stream.records.add(new BlockRecord(at, c.length(), c.flags(), c.storedCrc(), c.rawCrc()));
        }

        @Override
        public void close() {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
    }

    /** The start of the first file cut into ELF parts: its class and machine choose the streams' tuning. */
    private byte[] firstElf;

    /**
     * How the xz encoder models an ELF part's stream (null: the level's own settings). Measured
     * on Debian's trees (README.md, "Choosing a codec"): the match finder's full effort pays on
     * these streams, whose matches are longer; relocation columns are 8-byte (ELF32: 4-byte)
     * words, so literals and matches are modelled by position in a word; arm64 code is 4-byte
     * instructions.
     */
    private Codec.XzTuning elfTuning(StreamPlan stream) {
        if (stream.codec != Codec.XZ || stream.elfPart < 0 || firstElf == null) {
            return null;
        }
        boolean is64 = firstElf[4] == 2;
        int machine = firstElf[5] == 2 ? (firstElf[18] & 0xff) << 8 | (firstElf[19] & 0xff)
                : (firstElf[18] & 0xff) | (firstElf[19] & 0xff) << 8;
        if (stream.elfPart == ElfStreams.STREAM_NAMES.indexOf("rela")) {
            return is64 ? new Codec.XzTuning(0, 3, 3, 0, 0) : new Codec.XzTuning(0, 2, 2, 0, 0);
        }
        if (stream.elfPart == ElfStreams.STREAM_NAMES.indexOf("code") && machine == EM_AARCH64) {
            return new Codec.XzTuning(2, 2, 2, 0, 0);
        }
        return new Codec.XzTuning(3, 0, 2, 0, 0);
    }

    private static final int EM_AARCH64 = 183;

    private static Compressed compressBlock(StreamPlan stream, Codec.XzTuning tuning, byte[] raw, int len) throws IOException {
        int rawCrc = ImageLayout.crc(raw, 0, len);
        byte[] c = stream.codec.compress(raw, len, stream.level, stream.blockSize, tuning);
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

    /**
     * The index of FORMAT.md: version 1 without the stream table, version 2 with it. The ELF part
     * start rows go at the end of the string table.
     */
    private static byte[] buildIndex(boolean v2, List<Node> order, java.util.IdentityHashMap<Node, Integer> indexOf,
                                     int[] layout, long[] fileLocation, List<StreamPlan> streams,
                                     List<BlockRecord> blocks, String kernelVersion, byte[] elfStarts) {
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
        int elfStartsOff = strings.size();
        strings.writeBytes(elfStarts);
        byte[] st = strings.toByteArray();

        IndexHeader ih = new IndexHeader(n, blocks.size(), st.length, versionOff, version.length, v2 ? streams.size() : 0);
        ByteBuffer b = ImageLayout.littleEndian(new byte[Math.toIntExact(ih.indexLength())]);
        ih.encode(b);
        for (int s = 0; v2 && s < streams.size(); s++) {
            StreamPlan sp = streams.get(s);
            new StreamRecord(streamNameOff[s], sp.name.length(), sp.codec.id, sp.blockSize, sp.rawLength,
                    sp.firstBlock, sp.records.size()).encode(b, ih.streamsAt() + s * StreamRecord.SIZE);
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
                // Version 2: the layout word, transform in bits 0-7 and stream in bits 8-23.
                childCount = v2 ? layout[i] : 0;
                location = ImageLayout.transformOf(layout[i]) == ImageFormat.TRANSFORM_ELF
                        ? elfStartsOff + fileLocation[i] : fileLocation[i];
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

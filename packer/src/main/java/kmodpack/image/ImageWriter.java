package kmodpack.image;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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

    public record Options(Codec codec, int level, int blockSize, int threads) {
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
        List<Node> dataOrder = new ArrayList<>();
        collectFiles(root, dataOrder);
        long[] dataOffset = new long[order.size()];
        java.util.IdentityHashMap<Node, Integer> indexOf = new java.util.IdentityHashMap<>();
        for (int i = 0; i < order.size(); i++) {
            indexOf.put(order.get(i), i);
        }
        long total = 0;
        for (Node f : dataOrder) {
            dataOffset[indexOf.get(f)] = total;
            total += f.size;
        }

        List<BlockRecord> blocks = writeData(dataOrder, total, out, progress);
        long indexOffset = out.position();

        byte[] index = buildIndex(order, indexOf, dataOffset, blocks, kernelVersion);
        Codec indexCodec = options.codec();
        byte[] stored = indexCodec.compress(index, index.length, options.level(), Math.max(index.length, 1));
        if (stored == null) {
            indexCodec = Codec.NONE;
            stored = index;
        }
        writeFully(out, ByteBuffer.wrap(stored));

        ByteBuffer h = ByteBuffer.allocate(ImageFormat.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        h.put(ImageFormat.MAGIC);
        h.putShort((short) ImageFormat.MAJOR).putShort((short) ImageFormat.MINOR);
        h.put((byte) options.codec().id).put((byte) indexCodec.id).putShort((short) 0);
        h.putInt(options.blockSize()).putInt(0);
        h.putLong(total).putLong(indexOffset).putLong(stored.length);
        h.putInt(index.length).putInt(ModuleImage.crc(stored, 0, stored.length)).putInt(ModuleImage.crc(index, 0, index.length));
        h.putInt(ModuleImage.crc(h.array(), 0, 60));
        h.flip();
        long end = out.position();
        out.position(0);
        writeFully(out, h);
        out.position(end);
        return new Summary(order.size(), dataOrder.size(), total, end, blocks.size());
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

    private record BlockRecord(long offset, int storedLength, int flags, int storedCrc, int rawCrc) {
    }

    private record Compressed(byte[] data, int length, int flags, int storedCrc, int rawCrc) {
    }

    /** Streams all file contents through block buffers; compression runs ahead on a thread pool. */
    private List<BlockRecord> writeData(List<Node> files, long total, FileChannel out, Progress progress) throws IOException {
        out.position(ImageFormat.HEADER_SIZE);
        int bs = options.blockSize();
        List<BlockRecord> records = new ArrayList<>();
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
            long done = 0;
            byte[] chunk = new byte[Math.min(bs, 1 << 16)];
            for (Node f : files) {
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
                        done += n;
                        if (fill == bs) {
                            submit(buf, fill, pool, inFlight, maxInFlight, out, records);
                            buf = new byte[bs];
                            fill = 0;
                            if (progress != null) {
                                progress.update(done, total);
                            }
                        }
                    }
                    if (in.read(chunk) >= 0) {
                        throw new IOException(f.name() + ": file grew while it was being packed");
                    }
                }
            }
            if (fill > 0) {
                submit(buf, fill, pool, inFlight, maxInFlight, out, records);
            }
            while (!inFlight.isEmpty()) {
                writeBlock(await(inFlight.poll()), out, records);
            }
            if (progress != null) {
                progress.update(done, total);
            }
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
        return records;
    }

    private void submit(byte[] buf, int len, ExecutorService pool, ArrayDeque<Future<Compressed>> inFlight,
                        int maxInFlight, FileChannel out, List<BlockRecord> records) throws IOException {
        if (pool == null) {
            writeBlock(compressBlock(buf, len), out, records);
            return;
        }
        inFlight.add(pool.submit(() -> compressBlock(buf, len)));
        while (inFlight.size() >= maxInFlight) {
            writeBlock(await(inFlight.poll()), out, records);
        }
    }

    private Compressed compressBlock(byte[] raw, int len) throws IOException {
        int rawCrc = ModuleImage.crc(raw, 0, len);
        byte[] c = options.codec().compress(raw, len, options.level(), options.blockSize());
        if (c == null) {
            return new Compressed(raw, len, ImageFormat.BLOCK_FLAG_RAW, rawCrc, rawCrc);
        }
        return new Compressed(c, c.length, 0, ModuleImage.crc(c, 0, c.length), rawCrc);
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
        // String table: names and link targets in entry order, then the kernel version.
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
        byte[] st = strings.toByteArray();

        int length = ImageFormat.INDEX_HEADER_SIZE + ImageFormat.BLOCK_RECORD_SIZE * blocks.size()
                + ImageFormat.ENTRY_RECORD_SIZE * n + st.length;
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(n).putInt(blocks.size()).putInt(st.length).putInt(versionOff).putInt(version.length);
        b.put(new byte[12]);
        for (BlockRecord r : blocks) {
            b.putLong(r.offset()).putInt(r.storedLength()).putInt(r.flags()).putInt(r.storedCrc()).putInt(r.rawCrc());
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
            } else {
                location = linkOff[i];
            }
            // The parent is filled in below, from the parent's side.
            b.putInt(0).putInt(nameOff[i]).putInt(i == 0 ? 0 : e.name.length).putInt(e.mode)
                    .putInt(e.uid).putInt(e.gid).putLong(e.mtimeSeconds).putInt(e.mtimeNanos).putInt(childCount)
                    .putLong(e.size).putLong(location);
        }
        // Parents are filled in afterwards: a child knows its parent only through the parent's list.
        int entriesAt = ImageFormat.INDEX_HEADER_SIZE + ImageFormat.BLOCK_RECORD_SIZE * blocks.size();
        for (int i = 0; i < n; i++) {
            Node e = order.get(i);
            if (e.isDirectory()) {
                for (Node c : e.children) {
                    b.putInt(entriesAt + indexOf.get(c) * ImageFormat.ENTRY_RECORD_SIZE, i);
                }
            }
        }
        b.put(st);
        return b.array();
    }

    private static void writeFully(FileChannel out, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            out.write(buf);
        }
    }
}

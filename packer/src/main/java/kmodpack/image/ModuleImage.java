package kmodpack.image;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;

/**
 * Read access to a kmodpack image (docs/FORMAT.md): lookup by path, stat, directory listing,
 * readlink and reads at any offset. The whole index is checked on open; every block is checked
 * before any of its bytes are returned. Thread-safe: reads from several threads share one file
 * handle (positional reads) and one cache of decoded blocks.
 */
public final class ModuleImage implements Closeable {
    /** Decoded blocks kept for reuse: sequential reads in small pieces (FUSE) hit the cache. */
    private static final long DEFAULT_CACHE_BYTES = 16L << 20;

    private final Path file;
    private final FileChannel channel;
    private final Codec codec;
    private final int blockSize;
    private final long dataLength;
    private final String kernelVersion;
    private final long indexOffset;

    private final long[] blockOffset;
    private final int[] blockStoredLength;
    private final int[] blockFlags;
    private final int[] blockStoredCrc;
    private final int[] blockRawCrc;

    private final ImageEntry[] entries;
    /** Where each entry's name lies in the string table: lookup compares raw bytes. */
    private final int[] nameOffsets;
    private final int[] nameLengths;
    private final byte[] strings;

    private final Map<Integer, byte[]> cache;
    /** Blocks being decoded now, guarded by the cache's lock. */
    private final Map<Integer, CompletableFuture<byte[]>> decoding = new java.util.HashMap<>();
    private final int cacheCapacity;

    private ModuleImage(Path file, FileChannel channel, Codec codec, int blockSize, long dataLength,
                        long indexOffset, ByteBuffer index) throws ImageException {
        this.file = file;
        this.channel = channel;
        this.codec = codec;
        this.blockSize = blockSize;
        this.dataLength = dataLength;
        this.indexOffset = indexOffset;

        int entryCount = index.getInt(0);
        int blockCount = index.getInt(4);
        int stringLength = index.getInt(8);
        long expectedBlocks = dataLength / blockSize + (dataLength % blockSize != 0 ? 1 : 0);
        if (entryCount < 1 || blockCount < 0 || stringLength < 0 || blockCount != expectedBlocks) {
            throw damagedIndex("bad counts");
        }
        long expectedLength = ImageFormat.INDEX_HEADER_SIZE + (long) ImageFormat.BLOCK_RECORD_SIZE * blockCount
                + (long) ImageFormat.ENTRY_RECORD_SIZE * entryCount + stringLength;
        if (expectedLength != index.capacity()) {
            throw damagedIndex("sections do not add up to its length");
        }
        int blocksAt = ImageFormat.INDEX_HEADER_SIZE;
        int entriesAt = blocksAt + ImageFormat.BLOCK_RECORD_SIZE * blockCount;
        int stringsAt = entriesAt + ImageFormat.ENTRY_RECORD_SIZE * entryCount;
        strings = new byte[stringLength];
        index.get(stringsAt, strings);

        int versionOffset = index.getInt(12);
        int versionLength = index.getInt(16);
        // The version becomes a directory name (mount's /lib/modules/VERSION): one safe component.
        if (!ImageFormat.validName(strings, versionOffset, versionLength)) {
            throw damagedIndex("the kernel version is not a valid name");
        }
        kernelVersion = string(versionOffset, versionLength, "kernel version");

        blockOffset = new long[blockCount];
        blockStoredLength = new int[blockCount];
        blockFlags = new int[blockCount];
        blockStoredCrc = new int[blockCount];
        blockRawCrc = new int[blockCount];
        for (int b = 0; b < blockCount; b++) {
            int r = blocksAt + b * ImageFormat.BLOCK_RECORD_SIZE;
            blockOffset[b] = index.getLong(r);
            blockStoredLength[b] = index.getInt(r + 8);
            blockFlags[b] = index.getInt(r + 12);
            blockStoredCrc[b] = index.getInt(r + 16);
            blockRawCrc[b] = index.getInt(r + 20);
            long len = Integer.toUnsignedLong(blockStoredLength[b]);
            // Compared by subtraction: an offset near 2^63 must not wrap round and pass.
            boolean raw = (blockFlags[b] & ImageFormat.BLOCK_FLAG_RAW) != 0;
            long rawLength = Math.min(blockSize, dataLength - (long) b * blockSize);
            if (blockOffset[b] < ImageFormat.HEADER_SIZE || len > indexOffset - blockOffset[b]
                    || (blockFlags[b] & ~ImageFormat.BLOCK_FLAG_RAW) != 0
                    || len > blockSize + (long) (blockSize >> 4) + 4096
                    || rawLength > (raw ? Codec.NONE : codec).maxRawLength(len)) {
                throw damagedIndex("block " + b + " has a bad record");
            }
        }

        entries = new ImageEntry[entryCount];
        nameOffsets = new int[entryCount];
        nameLengths = new int[entryCount];
        for (int i = 0; i < entryCount; i++) {
            int r = entriesAt + i * ImageFormat.ENTRY_RECORD_SIZE;
            int parent = index.getInt(r);
            int nameOffset = index.getInt(r + 4);
            int nameLength = index.getInt(r + 8);
            String name = i == 0 ? "" : string(nameOffset, nameLength, "name");
            nameOffsets[i] = nameOffset;
            nameLengths[i] = nameLength;
            entries[i] = new ImageEntry(i, parent, name, index.getInt(r + 12), index.getInt(r + 16),
                    index.getInt(r + 20), index.getLong(r + 24), index.getInt(r + 32), index.getInt(r + 36),
                    index.getLong(r + 40), index.getLong(r + 48));
            if (i == 0 ? parent != 0 || nameLength != 0 : !validName(nameOffset, nameLength)) {
                throw damagedIndex("entry " + i + " has a bad name");
            }
        }
        checkTree();

        cacheCapacity = (int) Math.max(2, DEFAULT_CACHE_BYTES / blockSize);
        cache = new LinkedHashMap<>(16, 0.75f, true);
    }

    /**
     * Opens an image and checks its header and index.
     *
     * @throws ImageException when the file is not an image or is damaged; the message says which
     */
    public static ModuleImage open(Path file) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new ImageException(file + ": no such file");
        }
        try {
            return open(file, ch);
        } catch (IOException | Error e) {
            ch.close();
            throw e;
        } catch (RuntimeException e) {
            ch.close();
            throw new ImageException(file + ": damaged image (" + e + ")", e);
        }
    }

    private static ModuleImage open(Path file, FileChannel ch) throws IOException {
        long fileLength = ch.size();
        if (fileLength < ImageFormat.HEADER_SIZE) {
            throw new ImageException(file + ": not a kmodpack image (too short)");
        }
        ByteBuffer h = ByteBuffer.allocate(ImageFormat.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, h, 0);
        byte[] magic = new byte[ImageFormat.MAGIC.length];
        h.get(0, magic);
        if (!Arrays.equals(magic, ImageFormat.MAGIC)) {
            throw new ImageException(file + ": not a kmodpack image");
        }
        if (crc(h.array(), 0, 60) != h.getInt(60)) {
            throw new ImageException(file + ": damaged image header (checksum mismatch)");
        }
        int major = Short.toUnsignedInt(h.getShort(8));
        if (major != ImageFormat.MAJOR) {
            throw new ImageException(file + ": image format version " + major + "." + Short.toUnsignedInt(h.getShort(10))
                    + " is not supported (this kmodpack reads " + ImageFormat.MAJOR + ".x)");
        }
        Codec codec;
        Codec indexCodec;
        try {
            codec = Codec.byId(Byte.toUnsignedInt(h.get(12)));
            indexCodec = Codec.byId(Byte.toUnsignedInt(h.get(13)));
        } catch (ImageException e) {
            throw new ImageException(file + ": " + e.getMessage());
        }
        int blockSize = h.getInt(16);
        long dataLength = h.getLong(24);
        long indexOffset = h.getLong(32);
        long indexStored = h.getLong(40);
        long indexRaw = Integer.toUnsignedLong(h.getInt(48));
        if (!ImageFormat.validBlockSize(blockSize) || dataLength < 0 || indexOffset < ImageFormat.HEADER_SIZE
                || indexStored <= 0 || indexStored > Integer.MAX_VALUE - 16 || indexRaw > Integer.MAX_VALUE - 16) {
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
        if (crc(stored, 0, stored.length) != h.getInt(52)) {
            throw new ImageException(file + ": damaged image index (checksum mismatch)");
        }
        byte[] raw = new byte[(int) indexRaw];
        try {
            // The index is one unit: its "block size" is its own length (FORMAT.md, Index).
            indexCodec.decompress(stored, stored.length, raw, raw.length, raw.length);
        } catch (ImageException e) {
            throw new ImageException(file + ": damaged image index (" + e.getMessage() + ")");
        }
        if (crc(raw, 0, raw.length) != h.getInt(56)) {
            throw new ImageException(file + ": damaged image index (checksum mismatch after decoding)");
        }
        if (raw.length < ImageFormat.INDEX_HEADER_SIZE) {
            throw new ImageException(file + ": damaged image index (too short)");
        }
        ByteBuffer index = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        try {
            return new ModuleImage(file, ch, codec, blockSize, dataLength, indexOffset, index);
        } catch (ImageException e) {
            throw new ImageException(file + ": " + e.getMessage());
        } catch (RuntimeException e) {
            // The checks above should leave nothing to fail here; if one was missed, the caller
            // still gets the reader's own exception, never an unchecked one from deep inside.
            throw new ImageException(file + ": damaged image index (" + e + ")", e);
        }
    }

    private static ImageException damagedIndex(String why) {
        return new ImageException("damaged image index (" + why + ")");
    }

    private boolean validName(int offset, int length) {
        return ImageFormat.validName(strings, offset, length);
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
                if (e.size() < 0 || e.location < 0 || e.location > dataLength || e.size() > dataLength - e.location) {
                    throw damagedIndex("file entry " + e.index + " lies outside the data");
                }
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

    private int compareNames(int a, int b) {
        return Arrays.compareUnsigned(strings, nameOffsets[a], nameOffsets[a] + nameLengths[a],
                strings, nameOffsets[b], nameOffsets[b] + nameLengths[b]);
    }

    // ---- metadata ------------------------------------------------------------------------------

    public Path file() {
        return file;
    }

    public String kernelVersion() {
        return kernelVersion;
    }

    public Codec codec() {
        return codec;
    }

    public int blockSize() {
        return blockSize;
    }

    public int blockCount() {
        return blockOffset.length;
    }

    /** Total uncompressed length of all regular files. */
    public long dataLength() {
        return dataLength;
    }

    /** Bytes the compressed blocks take in the file. */
    public long storedDataLength() {
        return indexOffset - ImageFormat.HEADER_SIZE;
    }

    public int entryCount() {
        return entries.length;
    }

    public ImageEntry root() {
        return entries[0];
    }

    /** The entry with this inode number, or null. */
    public ImageEntry entry(long inode) {
        return inode >= 1 && inode <= entries.length ? entries[(int) (inode - 1)] : null;
    }

    public ImageEntry parent(ImageEntry e) {
        return entries[e.parent];
    }

    /** All entries, parents before children. */
    public List<ImageEntry> entries() {
        return Collections.unmodifiableList(Arrays.asList(entries));
    }

    /**
     * Looks a path up, relative to the tree's root ({@code kernel/fs/ext4/ext4.ko}); a leading
     * '/', repeated '/' and "." components are ignored; ".." is not resolved (returns null).
     * Symbolic links are not followed. Returns null when there is no such entry.
     */
    public ImageEntry lookup(String path) {
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

    /** The child of a directory with this name, or null. */
    public ImageEntry child(ImageEntry dir, String name) {
        return dir.isDirectory() ? child(dir, name.getBytes(StandardCharsets.UTF_8)) : null;
    }

    private ImageEntry child(ImageEntry dir, byte[] name) {
        int lo = (int) dir.location;
        int hi = lo + dir.childCount - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            ImageEntry m = entries[mid];
            int off = nameOffset(m);
            int c = Arrays.compareUnsigned(strings, off, off + nameLength(m), name, 0, name.length);
            if (c < 0) {
                lo = mid + 1;
            } else if (c > 0) {
                hi = mid - 1;
            } else {
                return m;
            }
        }
        return null;
    }

    private int nameOffset(ImageEntry e) {
        return nameOffsets[e.index];
    }

    private int nameLength(ImageEntry e) {
        return nameLengths[e.index];
    }

    /** The entries of a directory in byte order of their names; empty for non-directories. */
    public List<ImageEntry> list(ImageEntry dir) {
        if (!dir.isDirectory() || dir.childCount == 0) {
            return List.of();
        }
        return Collections.unmodifiableList(Arrays.asList(entries).subList((int) dir.location, (int) dir.location + dir.childCount));
    }

    /** The path of an entry relative to the root, '/'-separated; empty for the root. */
    public String path(ImageEntry e) {
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

    /** The target of a symbolic link. */
    public String readlink(ImageEntry link) throws ImageException {
        if (!link.isSymlink()) {
            throw new ImageException(path(link) + ": not a symbolic link");
        }
        return new String(strings, (int) link.location, (int) link.size(), StandardCharsets.UTF_8);
    }

    /** The raw bytes of an entry's name, as stored (empty for the root). */
    public byte[] nameBytes(ImageEntry e) {
        return Arrays.copyOfRange(strings, nameOffsets[e.index], nameOffsets[e.index] + nameLengths[e.index]);
    }

    /** The raw bytes of a link target, as stored. */
    public byte[] readlinkBytes(ImageEntry link) throws ImageException {
        if (!link.isSymlink()) {
            throw new ImageException(path(link) + ": not a symbolic link");
        }
        return Arrays.copyOfRange(strings, (int) link.location, (int) (link.location + link.size()));
    }

    // ---- data ----------------------------------------------------------------------------------

    /**
     * Reads up to {@code len} bytes of a regular file starting at {@code offset} into
     * {@code dst}. Returns the number of bytes read, 0 at or past the end of the file.
     *
     * @throws ImageException when a block the read needs is damaged; nothing is returned from it
     */
    public int read(ImageEntry file, long offset, byte[] dst, int off, int len) throws IOException {
        requireFile(file);
        if (offset < 0 || len < 0 || off < 0 || off + len > dst.length) {
            throw new IndexOutOfBoundsException();
        }
        long n = Math.min(len, file.size() - offset);
        if (n <= 0) {
            return 0;
        }
        long pos = file.location + offset;
        long end = pos + n;
        int done = 0;
        try {
            while (pos < end) {
                int b = (int) (pos / blockSize);
                int within = (int) (pos % blockSize);
                byte[] raw = block(b);
                int take = (int) Math.min(raw.length - within, end - pos);
                System.arraycopy(raw, within, dst, off + done, take);
                done += take;
                pos += take;
            }
        } catch (ImageException e) {
            throw new ImageException(path(file) + ": " + e.getMessage(), e);
        }
        return done;
    }

    /** Like {@link #read(ImageEntry, long, byte[], int, int)} into a buffer's remaining space. */
    public int read(ImageEntry file, long offset, ByteBuffer dst) throws IOException {
        if (dst.hasArray()) {
            int n = read(file, offset, dst.array(), dst.arrayOffset() + dst.position(), dst.remaining());
            dst.position(dst.position() + n);
            return n;
        }
        byte[] tmp = new byte[dst.remaining()];
        int n = read(file, offset, tmp, 0, tmp.length);
        dst.put(tmp, 0, n);
        return n;
    }

    /**
     * The whole content of a regular file. The blocks of a file that spans several are decoded
     * on spare cores at the same time, and the block it ends in only as far as the file goes.
     */
    public byte[] readAllBytes(ImageEntry file) throws IOException {
        requireFile(file);
        if (file.size() > Integer.MAX_VALUE - 16) {
            throw new ImageException(path(file) + ": too large to read into memory (" + file.size() + " bytes)");
        }
        byte[] out = new byte[(int) file.size()];
        if (out.length == 0) {
            return out;
        }
        long start = file.location;
        long end = start + out.length;
        int first = (int) (start / blockSize);
        int count = (int) ((end - 1) / blockSize) - first + 1;
        AtomicInteger next = new AtomicInteger();
        // Each worker takes the next block not yet taken: the caller, plus helpers on spare cores.
        Callable<Void> worker = () -> {
            for (int k; (k = next.getAndIncrement()) < count; ) {
                int b = first + k;
                long blockStart = (long) b * blockSize;
                int need = (int) Math.min(blockSize, end - blockStart);
                byte[] raw = need < rawLength(b) ? cachedOrPrefix(b, need) : block(b);
                int from = (int) Math.max(0, start - blockStart);
                System.arraycopy(raw, from, out, (int) (blockStart + from - start), need - from);
            }
            return null;
        };
        int helpers = Math.min(count - 1, Runtime.getRuntime().availableProcessors() - 1);
        List<ForkJoinTask<Void>> tasks = new ArrayList<>();
        for (int i = 0; i < helpers; i++) {
            tasks.add(ForkJoinPool.commonPool().submit(worker));
        }
        try {
            worker.call();
            for (ForkJoinTask<Void> t : tasks) {
                t.get();
            }
        } catch (ExecutionException e) {
            throw rethrow(file, e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        } catch (Exception e) {
            throw rethrow(file, e);
        }
        return out;
    }

    private ImageException rethrow(ImageEntry file, Throwable cause) throws IOException {
        // The pool wraps a helper's checked exception in RuntimeExceptions, sometimes twice.
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof IOException) {
                cause = t;
                break;
            }
        }
        if (cause instanceof ImageException) {
            return new ImageException(path(file) + ": " + cause.getMessage(), cause);
        }
        if (cause instanceof IOException io) {
            throw io;
        }
        if (cause instanceof Error err) {
            throw err;
        }
        return new ImageException(path(file) + ": " + cause, cause);
    }

    private byte[] cachedOrPrefix(int b, int need) throws IOException {
        synchronized (cache) {
            byte[] hit = cache.get(b);
            if (hit != null) {
                return hit;
            }
        }
        return decodeBlock(b, need);
    }

    /** A stream over a regular file's content. */
    public InputStream newInputStream(ImageEntry file) throws ImageException {
        requireFile(file);
        return new InputStream() {
            private long pos;

            @Override
            public int read() throws IOException {
                byte[] one = new byte[1];
                return read(one, 0, 1) == 1 ? one[0] & 0xff : -1;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                if (len == 0) {
                    return 0;
                }
                int n = ModuleImage.this.read(file, pos, b, off, len);
                if (n == 0) {
                    return -1;
                }
                pos += n;
                return n;
            }

            @Override
            public long skip(long n) {
                long k = Math.max(0, Math.min(n, file.size() - pos));
                pos += k;
                return k;
            }

            @Override
            public int available() {
                return (int) Math.min(Integer.MAX_VALUE, file.size() - pos);
            }
        };
    }

    private void requireFile(ImageEntry e) throws ImageException {
        if (!e.isRegularFile()) {
            throw new ImageException(path(e) + (e.isDirectory() ? ": is a directory" : ": not a regular file"));
        }
    }

    /** The blocks that hold a regular file's bytes, first and last inclusive; null for an empty file. */
    public int[] blockRange(ImageEntry file) {
        if (!file.isRegularFile() || file.size() == 0) {
            return null;
        }
        return new int[] {(int) (file.location / blockSize), (int) ((file.location + file.size() - 1) / blockSize)};
    }

    /**
     * The decoded, checked bytes of a block, from the cache where possible. Threads that want
     * the same block at once share one decode.
     */
    byte[] block(int b) throws IOException {
        CompletableFuture<byte[]> mine;
        CompletableFuture<byte[]> theirs;
        synchronized (cache) {
            byte[] hit = cache.get(b);
            if (hit != null) {
                return hit;
            }
            theirs = decoding.get(b);
            mine = theirs == null ? new CompletableFuture<>() : null;
            if (mine != null) {
                decoding.put(b, mine);
            }
        }
        if (theirs != null) {
            try {
                return theirs.join();
            } catch (CompletionException e) {
                if (e.getCause() instanceof IOException io) {
                    throw io;
                }
                if (e.getCause() instanceof Error err) {
                    throw err;
                }
                throw new ImageException("block " + b + ": " + e.getCause(), e.getCause());
            }
        }
        byte[] raw;
        try {
            raw = decodeBlock(b, rawLength(b));
        } catch (IOException | RuntimeException | Error e) {
            synchronized (cache) {
                decoding.remove(b);
            }
            mine.completeExceptionally(e);
            throw e;
        }
        synchronized (cache) {
            cache.put(b, raw);
            if (cache.size() > cacheCapacity) {
                var it = cache.entrySet().iterator();
                it.next();
                it.remove();
            }
            decoding.remove(b);
        }
        mine.complete(raw);
        return raw;
    }

    /** The block that holds byte {@code offset} of a regular file's content. */
    public int blockOf(ImageEntry file, long offset) {
        return (int) ((file.location + offset) / blockSize);
    }

    /** Whether a block is decoded in the cache or being decoded. */
    public boolean isCached(int b) {
        synchronized (cache) {
            return cache.containsKey(b) || decoding.containsKey(b);
        }
    }

    /**
     * Decodes a block into the cache unless it is there already: read-ahead for sequential
     * readers, run on a spare thread. A damaged block is left for the read that needs it to report.
     */
    public void preload(int b) {
        if (b < 0 || b >= blockOffset.length) {
            return;
        }
        try {
            block(b);
        } catch (IOException e) {
            // reported by the read that needs this block
        }
    }


    private int rawLength(int b) {
        return (int) Math.min(blockSize, dataLength - (long) b * blockSize);
    }

    /**
     * Reads, checks and decodes the first {@code need} bytes of a block, without touching the
     * cache. The stored checksum is always checked; the raw one only when the whole block is
     * decoded (it covers the whole block), which FORMAT.md allows.
     */
    byte[] decodeBlock(int b, int need) throws IOException {
        int stored = blockStoredLength[b];
        byte[] buf = new byte[stored];
        try {
            readFully(channel, ByteBuffer.wrap(buf), blockOffset[b]);
        } catch (EOFException e) {
            throw new ImageException("block " + b + " is cut off: the image was truncated");
        }
        if (crc(buf, 0, stored) != blockStoredCrc[b]) {
            throw new ImageException("damaged block " + b + " (checksum mismatch)");
        }
        int rawLength = rawLength(b);
        boolean whole = need >= rawLength;
        byte[] raw = new byte[whole ? rawLength : need];
        Codec c = (blockFlags[b] & ImageFormat.BLOCK_FLAG_RAW) != 0 ? Codec.NONE : codec;
        try {
            if (whole) {
                c.decompress(buf, stored, raw, rawLength, blockSize);
            } else {
                c.decompressPrefix(buf, stored, raw, need, rawLength, blockSize);
            }
        } catch (ImageException | RuntimeException e) {
            throw new ImageException("damaged block " + b + " (" + e.getMessage() + ")", e);
        }
        if (whole && crc(raw, 0, rawLength) != blockRawCrc[b]) {
            throw new ImageException("damaged block " + b + " (checksum mismatch after decoding)");
        }
        return raw;
    }

    // ---- verification --------------------------------------------------------------------------

    /** What {@link #verify} found: damaged blocks and the paths of the files that lie in them. */
    public record VerifyResult(int blocksChecked, List<String> damagedBlocks, List<String> damagedFiles) {
        public boolean ok() {
            return damagedBlocks.isEmpty();
        }
    }

    /** Called after each block during {@link #verify}. */
    public interface Progress {
        void blockDone(int done, int total);
    }

    /** Checks every block (the header and index were checked on open) and names the damaged files. */
    public VerifyResult verify(Progress progress) {
        int n = blockOffset.length;
        boolean[] bad = new boolean[n];
        List<String> damagedBlocks = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            try {
                decodeBlock(b, rawLength(b));
            } catch (IOException e) {
                bad[b] = true;
                damagedBlocks.add(e.getMessage());
            }
            if (progress != null) {
                progress.blockDone(b + 1, n);
            }
        }
        List<String> files = new ArrayList<>();
        if (!damagedBlocks.isEmpty()) {
            for (ImageEntry e : entries) {
                int[] range = blockRange(e);
                if (range != null) {
                    for (int b = range[0]; b <= range[1]; b++) {
                        if (bad[b]) {
                            files.add(path(e));
                            break;
                        }
                    }
                }
            }
            Collections.sort(files);
        }
        return new VerifyResult(n, damagedBlocks, files);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    // ---- helpers -------------------------------------------------------------------------------

    static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new EOFException();
            }
            pos += n;
        }
    }
}

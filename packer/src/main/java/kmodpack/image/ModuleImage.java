package kmodpack.image;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import kmodpack.image.ImageLayout.Header;
import kmodpack.image.elf.ElfJoin;
import kmodpack.image.elf.JoinedFileCache;

/**
 * Read access to a kmodpack image (docs/FORMAT.md): lookup by path, stat, directory listing,
 * readlink and reads at any offset. A facade over the {@link ImageIndex} (checked in full on
 * open) and the {@link BlockStore} (every block checked before any of its bytes are returned);
 * {@link #content} is the one place that turns a file's transform into reads of its streams.
 * Thread-safe: reads from several threads share one file handle and one cache of decoded blocks.
 */
public final class ModuleImage implements Closeable {
    private final ImageIndex index;
    private final BlockStore store;
    private final PathResolver resolver;
    /** The last files joined from ELF parts (transform 1), for reads in small pieces. */
    private final JoinedFileCache joined = new JoinedFileCache(JOINED_CACHE_BYTES);

    /**
     * Joined files kept: FUSE reads a module 128 KiB at a time, and the median module is 35 KB,
     * ext4.ko 1.5 to 2 MB. The file joined last stays even when it is larger.
     */
    private static final long JOINED_CACHE_BYTES = 8L << 20;

    private ModuleImage(ImageIndex index, BlockStore store) {
        this.index = index;
        this.store = store;
        this.resolver = new PathResolver(index);
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
            ImageIndex index = ImageIndex.read(file, ch);
            return new ModuleImage(index, new BlockStore(ch, index));
        } catch (IOException | Error e) {
            ch.close();
            throw e;
        } catch (RuntimeException e) {
            ch.close();
            throw new ImageException(file + ": damaged image (" + e + ")", e);
        }
    }

    // ---- metadata ------------------------------------------------------------------------------

    public Path file() {
        return index.file;
    }

    public String kernelVersion() {
        return index.kernelVersion;
    }

    /** The format version of this image: 1 or 2 (the major number). */
    public int formatMajor() {
        return index.major;
    }

    /** The minor version the image's header gives. */
    public int formatMinor() {
        return index.minor;
    }

    /** The streams of the image, in block order. */
    public List<StreamInfo> streams() {
        return List.of(index.streams);
    }

    /** The codec of the stream that holds most of the data (the only one in a version 1 image). */
    public Codec codec() {
        return mainStream().codec();
    }

    /** The block size of the stream that holds most of the data. */
    public int blockSize() {
        return mainStream().blockSize();
    }

    private StreamInfo mainStream() {
        StreamInfo main = index.streams[0];
        for (StreamInfo s : index.streams) {
            if (s.rawLength() > main.rawLength()) {
                main = s;
            }
        }
        return main;
    }

    /**
     * Memory that reads of files joined from ELF parts (transform 1) may hold beyond the block
     * cache: the joined-file cache, and the largest such file three times over (cached, being
     * joined, and its parts); 0 for an image without them. A server sizes its heap with it.
     */
    public long joinBytes() {
        long largest = index.largestElfFile();
        return largest < 0 ? 0 : JOINED_CACHE_BYTES + 3 * largest;
    }

    /** The largest block size of any stream: a reader holds blocks (and xz dictionaries) this big. */
    public int largestBlockSize() {
        int largest = 0;
        for (StreamInfo s : index.streams) {
            largest = Math.max(largest, s.blockSize());
        }
        return largest;
    }

    public int blockCount() {
        return store.blockCount();
    }

    /** Total uncompressed length of all regular files. */
    public long dataLength() {
        return index.dataLength;
    }

    /** Bytes the compressed blocks take in the file. */
    public long storedDataLength() {
        return index.indexOffset - Header.SIZE;
    }

    // ---- the tree ------------------------------------------------------------------------------

    public int entryCount() {
        return index.entryCount();
    }

    public ImageEntry root() {
        return index.root();
    }

    /** The entry with this inode number, or null. */
    public ImageEntry entry(long inode) {
        return index.entry(inode);
    }

    public ImageEntry parent(ImageEntry e) {
        return index.parent(e);
    }

    /** All entries, parents before children. */
    public List<ImageEntry> entries() {
        return index.entries();
    }

    /**
     * Looks a path up, relative to the tree's root ({@code kernel/fs/ext4/ext4.ko}); a leading
     * '/', repeated '/' and "." components are ignored; ".." is not resolved (returns null).
     * Symbolic links are not followed. Returns null when there is no such entry.
     */
    public ImageEntry lookup(String path) {
        return index.lookup(path);
    }

    /**
     * The entry a path names as the kernel would resolve it under the image's directory:
     * symbolic links followed (the last one only when {@code followLast} or when the path ends
     * in '/'), ".." resolved, at most 40 links. Returns null when the path names nothing in the
     * image (a link that leads outside it included).
     *
     * @throws ImageException when the path meets more than 40 symbolic links
     */
    public ImageEntry resolve(String path, boolean followLast) throws ImageException {
        return resolver.resolve(path, followLast);
    }

    /** The child of a directory with this name, or null. */
    public ImageEntry child(ImageEntry dir, String name) {
        return index.child(dir, name.getBytes(StandardCharsets.UTF_8));
    }

    /** The entries of a directory in byte order of their names; empty for non-directories. */
    public List<ImageEntry> list(ImageEntry dir) {
        return index.list(dir);
    }

    /** The path of an entry relative to the root, '/'-separated; empty for the root. */
    public String path(ImageEntry e) {
        return index.path(e);
    }

    /** The target of a symbolic link. */
    public String readlink(ImageEntry link) throws ImageException {
        return new String(index.readlinkBytes(link), StandardCharsets.UTF_8);
    }

    /** The raw bytes of an entry's name, as stored (empty for the root). */
    public byte[] nameBytes(ImageEntry e) {
        return index.nameBytes(e);
    }

    /** The raw bytes of a link target, as stored. */
    public byte[] readlinkBytes(ImageEntry link) throws ImageException {
        return index.readlinkBytes(link);
    }

    // ---- data ----------------------------------------------------------------------------------

    /**
     * How a regular file's bytes are made from the streams: one case per transform id of
     * FORMAT.md, Streams. The index refuses unknown transforms on open.
     */
    private FileContent content(ImageEntry file) {
        return switch (file.transform) {
            case ImageFormat.TRANSFORM_IDENTITY ->
                    new FileContent.StreamRange(store, index.streams[file.stream], file.location, file.size());
            case ImageFormat.TRANSFORM_ELF -> new FileContent.ElfParts(store,
                    Arrays.copyOfRange(index.streams, file.stream, file.stream + ElfJoin.PARTS),
                    index.elfStarts(file), file.size(), file.index, joined);
            default -> throw new IllegalStateException("transform " + file.transform + " passed the index check");
        };
    }

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
        try {
            content(file).read(offset, dst, off, (int) n);
        } catch (ImageException e) {
            throw new ImageException(path(file) + ": " + e.getMessage(), e);
        }
        return (int) n;
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
     * on spare cores at the same time, and a block it ends in only as far as the file goes.
     */
    public byte[] readAllBytes(ImageEntry file) throws IOException {
        requireFile(file);
        if (file.size() > Integer.MAX_VALUE - 16) {
            throw new ImageException(path(file) + ": too large to read into memory (" + file.size() + " bytes)");
        }
        byte[] out = new byte[(int) file.size()];
        try {
            content(file).readAll(out);
        } catch (ImageException e) {
            throw new ImageException(path(file) + ": " + e.getMessage(), e);
        }
        return out;
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

    // ---- blocks --------------------------------------------------------------------------------

    /** The blocks that hold a regular file's bytes, in ascending order; empty for others and empty files. */
    public int[] blocksOf(ImageEntry file) {
        return file.isRegularFile() ? content(file).blocks() : new int[0];
    }

    /** The block that holds byte {@code offset} of a regular file's content; -1 when no one block does. */
    public int blockOf(ImageEntry file, long offset) {
        return content(file).blockAt(offset);
    }

    /** Whether a block is decoded in the cache or being decoded. */
    public boolean isCached(int b) {
        return store.isCached(b);
    }

    /**
     * Decodes a block into the cache unless it is there already: read-ahead for sequential
     * readers, run on a spare thread. A damaged block is left for the read that needs it to report.
     */
    public void preload(int b) {
        store.preload(b);
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
        int n = store.blockCount();
        boolean[] bad = new boolean[n];
        List<String> damagedBlocks = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            try {
                store.decodeBlock(b, store.rawLength(b));
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
            for (ImageEntry e : entries()) {
                for (int b : blocksOf(e)) {
                    if (bad[b]) {
                        files.add(path(e));
                        break;
                    }
                }
            }
            Collections.sort(files);
        }
        return new VerifyResult(n, damagedBlocks, files);
    }

    @Override
    public void close() throws IOException {
        store.close();
    }
}

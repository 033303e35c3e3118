package kmodpack.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;

/**
 * A packed image as the module tree. Bytes come from the image reader, which verifies each
 * block's checksum, so damaged data fails the read instead of reaching the kernel.
 */
public final class ImageModuleTree implements ModuleTree {
    private final ModuleImage image;
    private final Path file;

    public ImageModuleTree(ModuleImage image, Path file) {
        this.image = image;
        this.file = file;
    }

    public static ImageModuleTree open(Path file) throws IOException {
        // Every lookup reads libkmod's indexes from the hot stream's lz4 blocks: lz4-java sets
        // itself up on the second core while this one reads the image's index.
        kmodpack.image.Codec.prepareLz4Soon();
        return new ImageModuleTree(ModuleImage.open(file), file);
    }

    public String kernelVersion() {
        return image.kernelVersion();
    }

    /** Paths are byte strings held as ISO-8859-1; the image names entries in UTF-8 bytes. */
    private static String imagePath(String relPath) {
        return new String(relPath.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8);
    }

    /** The entry at relPath with symbolic links inside the tree followed; null if none. */
    private ImageEntry resolve(String relPath) throws IOException {
        return image.resolve(imagePath(relPath), true);
    }

    /**
     * Starts decoding the blocks that hold these files in the background, each file on its own
     * thread. Only a version 1 image needs it: there the indexes lie in large LZMA2 blocks, and
     * the second core can decode one while the first reads the configuration; a version 2 image
     * keeps them in small lz4 blocks that a lookup decodes as it goes.
     */
    public void prefetch(String... relPaths) {
        if (image.formatMajor() != 1) return;
        for (String p : relPaths) {
            Thread t = new Thread(() -> {
                try {
                    ImageEntry e = resolve(p);
                    for (int b : e == null ? new int[0] : image.blocksOf(e)) {
                        image.preload(b);
                    }
                } catch (IOException | RuntimeException ignored) {
                    // the read that needs the file reports it
                }
            }, "prefetch " + p);
            t.setDaemon(true);
            t.start();
        }
    }

    /**
     * For a run that will read modules: the native LZMA2 decoder is loaded on a thread of its
     * own meanwhile (small reads, like the index, decode in Java until it is in).
     */
    public void decodeNativelySoon() {
        kmodpack.image.Codec.loadNativeXzSoon();
    }

    @Override
    public byte[] read(String relPath) throws IOException {
        return readNow(relPath);
    }

    private byte[] readNow(String relPath) throws IOException {
        ImageEntry e = resolve(relPath);
        if (e == null || !e.isRegularFile()) return null;
        return image.readAllBytes(e);
    }

    /** Reads straight from the image: a lookup decodes only the blocks its trie nodes lie in. */
    @Override
    public IndexFile.Source randomAccess(String relPath) throws IOException {
        ImageEntry e = resolve(relPath);
        if (e == null || !e.isRegularFile()) return null;
        return new IndexFile.Source() {
            @Override
            public long length() {
                return e.size();
            }

            @Override
            public void read(long pos, byte[] dst, int off, int len) throws IOException {
                int done = 0;
                while (done < len) {
                    int n = image.read(e, pos + done, dst, off + done, len - done);
                    if (n <= 0) throw new java.io.EOFException(relPath + ": shorter than its entry says");
                    done += n;
                }
            }
        };
    }

    @Override
    public boolean isFile(String relPath) throws IOException {
        ImageEntry e = resolve(relPath);
        return e != null && e.isRegularFile();
    }

    @Override
    public String describe() {
        return file.toString();
    }

    @Override
    public void close() throws IOException {
        image.close();
    }
}

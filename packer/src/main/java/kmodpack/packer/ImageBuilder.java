package kmodpack.packer;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

import kmodpack.image.Codec;
import kmodpack.image.ImageException;
import kmodpack.image.ImageWriter;

/**
 * Builds an image from a module tree on disk. The image is written to a temporary file beside
 * the target, forced to disk and renamed into place, so the target is either the old file or the
 * complete new one: a failed or killed build never leaves a partial image there.
 */
public final class ImageBuilder {
    private ImageBuilder() {
    }

    /** Chosen by measurement on Debian's trees; README.md, "Choosing a codec", says why. */
    public static final Codec DEFAULT_CODEC = Codec.XZ;
    /**
     * 256 KiB: a random read of one module decodes LZMA2 from its block's start, and the
     * read-path targets (modinfo of random modules through a mount) come before size.
     */
    public static final int DEFAULT_BLOCK_SIZE = 256 << 10;
    /** The ELF layout is the size-first choice, so it keeps 1 MiB blocks unless told otherwise. */
    public static final int ELF_LAYOUT_BLOCK_SIZE = 1 << 20;
    /** Whole files by default: README.md, "Choosing a codec", gives the ELF layout's measured trade-off. */
    public static final ImageWriter.Layout DEFAULT_LAYOUT = ImageWriter.Layout.PLAIN;

    public static ImageWriter.Summary build(Path versionDir, String kernelVersion, Path output,
                                            ImageWriter.Options options, ImageWriter.Progress progress) throws IOException {
        if (!Files.isDirectory(versionDir)) {
            throw new ImageException("no module tree at " + versionDir + " (missing directory)");
        }
        return build(TreeScanner.scan(versionDir), kernelVersion, output, options, progress);
    }

    /**
     * Builds an image from the tree at {@code versionDir} with depmod's files computed by
     * kmodpack's depmod instead of taken from the tree.
     */
    public static ImageWriter.Summary buildWithDepmod(Path versionDir, String kernelVersion, Path output,
                                                      ImageWriter.Options options, ImageWriter.Progress progress,
                                                      java.util.function.Consumer<String> warnings) throws IOException {
        if (!Files.isDirectory(versionDir)) {
            throw new ImageException("no module tree at " + versionDir + " (missing directory)");
        }
        java.util.Map<String, byte[]> files = kmodpack.depmod.TreeDepmod.compute(versionDir, warnings);
        return build(TreeScanner.scan(versionDir, files), kernelVersion, output, options, progress);
    }

    /** Builds an image of the tree under {@code root} (the version directory), from whatever source. */
    public static ImageWriter.Summary build(ImageWriter.Node root, String kernelVersion, Path output,
                                            ImageWriter.Options options, ImageWriter.Progress progress) throws IOException {
        if (Files.isDirectory(output)) {
            throw new ImageException(output + " is a directory");
        }
        Path dir = output.toAbsolutePath().getParent();
        if (!Files.isDirectory(dir)) {
            throw new ImageException("cannot write " + output + ": " + dir + " is not a directory");
        }
        Path tmp = dir.resolve("." + output.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        // A signal ends the JVM through shutdown hooks: take the temporary file with us.
        Thread cleanup = new Thread(() -> deleteQuietly(tmp));
        Runtime.getRuntime().addShutdownHook(cleanup);
        boolean done = false;
        try {
            ImageWriter.Summary summary;
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                summary = new ImageWriter(options).write(root, kernelVersion, ch, progress);
                ch.force(true);
            }
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            try {
                Files.move(tmp, output, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new ImageException("cannot rename the image into place at " + output);
            }
            syncDirectory(dir);
            done = true;
            return summary;
        } finally {
            if (!done) {
                deleteQuietly(tmp);
            }
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
        }
    }

    /** Makes the rename durable: fsync of the directory that holds the new name. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // some file systems do not allow fsync of a directory; the rename itself is done
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // nothing more can be done
        }
    }
}

package kmodpack.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;

/**
 * A packed image as the module tree. Bytes come from the image reader, which verifies each
 * block's checksum, so damaged data fails the read instead of reaching the kernel.
 */
public final class ImageModuleTree implements ModuleTree {
    private static final int MAX_LINKS = 8;

    private final ModuleImage image;
    private final Path file;

    public ImageModuleTree(ModuleImage image, Path file) {
        this.image = image;
        this.file = file;
    }

    public static ImageModuleTree open(Path file) throws IOException {
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
        String path = imagePath(relPath);
        for (int hops = 0; hops <= MAX_LINKS; hops++) {
            ImageEntry e = image.lookup(path);
            if (e == null || !e.isSymlink()) return e;
            String target = image.readlink(e);
            if (target.startsWith("/")) return null; // points outside the image
            int slash = path.lastIndexOf('/');
            path = normalize((slash < 0 ? "" : path.substring(0, slash + 1)) + target);
            if (path == null) return null;
        }
        return null;
    }

    private static String normalize(String path) {
        Deque<String> parts = new ArrayDeque<>();
        for (String p : path.split("/")) {
            if (p.isEmpty() || p.equals(".")) continue;
            if (p.equals("..")) {
                if (parts.isEmpty()) return null;
                parts.removeLast();
            } else {
                parts.addLast(p);
            }
        }
        return String.join("/", parts);
    }

    private final Map<String, CompletableFuture<byte[]>> prefetched = new ConcurrentHashMap<>();

    /**
     * Starts reading files in the background, each on its own thread: decoding the index files'
     * blocks is most of a short run's time, and the second core can do one while the first
     * reads the configuration and the other.
     */
    public void prefetch(String... relPaths) {
        for (String p : relPaths) {
            CompletableFuture<byte[]> f = new CompletableFuture<>();
            if (prefetched.putIfAbsent(p, f) != null) continue;
            Thread t = new Thread(() -> {
                try {
                    f.complete(readNow(p));
                } catch (Throwable x) {
                    f.completeExceptionally(x);
                }
            }, "prefetch " + p);
            t.setDaemon(true);
            t.start();
        }
    }

    @Override
    public byte[] read(String relPath) throws IOException {
        CompletableFuture<byte[]> f = prefetched.remove(relPath);
        if (f != null) {
            try {
                return f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while reading " + relPath, e);
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) throw io;
                if (e.getCause() instanceof RuntimeException r) throw r;
                throw new IOException(e.getCause());
            }
        }
        return readNow(relPath);
    }

    private byte[] readNow(String relPath) throws IOException {
        ImageEntry e = resolve(relPath);
        if (e == null || !e.isRegularFile()) return null;
        return image.readAllBytes(e);
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

package kmodpack.image;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;

/**
 * Resolves paths inside an image the way the kernel resolves them under the directory the
 * image stands for ({@code /lib/modules/<version>}): component by component from the root,
 * ".." to the parent of the directory reached so far, symbolic links followed where they are
 * met, at most {@link #MAX_LINKS} of them per path, as Linux allows. A link whose target is
 * absolute, or a ".." above the root, leads outside the image: such a path is not in it.
 * Every reader of the image (cat, extract, ls, the loader) resolves through here.
 */
final class PathResolver {
    /** Linux's limit on symbolic links followed in one path lookup (MAXSYMLINKS). */
    static final int MAX_LINKS = 40;

    private final ImageIndex index;

    PathResolver(ImageIndex index) {
        this.index = index;
    }

    /**
     * The entry a path names, relative to the tree's root; a leading '/' is ignored. Links met
     * before the last component are always followed; the last one only when {@code followLast}
     * or when the path ends in '/' (which also requires a directory).
     *
     * @return the entry, or null when the path names nothing in the image
     * @throws ImageException when more than {@link #MAX_LINKS} links are met
     */
    ImageEntry resolve(String path, boolean followLast) throws ImageException {
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        boolean mustBeDirectory = bytes.length > 0 && bytes[bytes.length - 1] == '/';
        Deque<byte[]> pending = new ArrayDeque<>();
        pushComponents(pending, bytes);
        ImageEntry cur = index.root();
        int links = 0;
        while (!pending.isEmpty()) {
            byte[] c = pending.pop();
            if (!cur.isDirectory()) {
                return null;
            }
            if (isDot(c)) {
                continue;
            }
            if (isDotDot(c)) {
                if (cur.isRoot()) {
                    return null;
                }
                cur = index.parent(cur);
                continue;
            }
            ImageEntry next = index.child(cur, c);
            if (next == null) {
                return null;
            }
            if (next.isSymlink() && (!pending.isEmpty() || followLast || mustBeDirectory)) {
                if (++links > MAX_LINKS) {
                    throw new ImageException(path + ": too many levels of symbolic links");
                }
                byte[] target = index.readlinkBytes(next);
                if (target[0] == '/') {
                    return null;
                }
                // The target's components come next, resolved from the link's directory.
                pushComponents(pending, target);
                continue;
            }
            cur = next;
        }
        return mustBeDirectory && !cur.isDirectory() ? null : cur;
    }

    /** Pushes the non-empty components of a path onto the front of the queue, first one first. */
    private static void pushComponents(Deque<byte[]> pending, byte[] path) {
        int end = path.length;
        for (int i = path.length - 1; i >= -1; i--) {
            if (i < 0 || path[i] == '/') {
                if (end > i + 1) {
                    pending.push(Arrays.copyOfRange(path, i + 1, end));
                }
                end = i;
            }
        }
    }

    private static boolean isDot(byte[] c) {
        return c.length == 1 && c[0] == '.';
    }

    private static boolean isDotDot(byte[] c) {
        return c.length == 2 && c[0] == '.' && c[1] == '.';
    }
}

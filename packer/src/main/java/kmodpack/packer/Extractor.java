package kmodpack.packer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

import kmodpack.image.ImageEntry;
import kmodpack.image.ImageException;
import kmodpack.image.ModuleImage;

/**
 * Writes an image's entries back to a directory. Safe against hostile images: every name was
 * checked when the image was opened (no '/', no "..", unique in its directory), every entry is
 * created new (never opened through an existing file or link), and links are created last, so
 * nothing is ever written outside the target directory.
 */
public final class Extractor {
    private Extractor() {
    }

    /** Called after each file with the running count. */
    @FunctionalInterface
    public interface Progress {
        void entryDone(int done, int total);
    }

    /**
     * Extracts the given paths (all when empty; a directory brings its whole subtree, and the
     * directories above it) into {@code target}, which is created when missing.
     */
    public static int extract(ModuleImage image, Path target, List<String> paths, Progress progress) throws IOException {
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
            throw new ImageException(target + " exists and is not a directory");
        }
        // An existing target keeps its own mode, owner and mtime (it may be /tmp, 1777): the
        // image's root metadata goes only onto a directory this extraction creates.
        boolean createdTarget = !Files.exists(target, LinkOption.NOFOLLOW_LINKS);
        Files.createDirectories(target);
        BitSet chosen = select(image, paths);
        List<ImageEntry> all = image.entries();
        Path[] where = new Path[all.size()];
        where[0] = target;
        List<ImageEntry> links = new ArrayList<>();
        List<ImageEntry> dirs = new ArrayList<>();
        int total = chosen.cardinality();
        int done = 0;
        // Entries come parents first, so each directory exists before its children.
        for (ImageEntry e : all) {
            int i = (int) e.inode() - 1;
            if (!chosen.get(i)) {
                continue;
            }
            if (i != 0) {
                where[i] = where[(int) image.parent(e).inode() - 1].resolve(e.name());
            }
            Path p = where[i];
            try {
                if (e.isDirectory()) {
                    if (i != 0) {
                        Files.createDirectory(p);
                    }
                    dirs.add(e);
                } else if (e.isRegularFile()) {
                    writeFile(image, e, p);
                    finish(p, e);
                } else {
                    links.add(e);
                }
            } catch (FileAlreadyExistsException ex) {
                throw new ImageException(p + " already exists");
            }
            if (progress != null) {
                progress.entryDone(++done, total);
            }
        }
        for (ImageEntry e : links) {
            Path p = where[(int) e.inode() - 1];
            try {
                Files.createSymbolicLink(p, Paths.get(image.readlink(e)));
            } catch (FileAlreadyExistsException ex) {
                throw new ImageException(p + " already exists");
            }
            finish(p, e);
        }
        // Directories last and deepest first: writing into them changed their mtime, and a
        // read-only directory must stay writable until its children are in.
        for (int k = dirs.size() - 1; k >= 0; k--) {
            ImageEntry e = dirs.get(k);
            if (e.isRoot() && (!paths.isEmpty() || !createdTarget)) {
                continue;
            }
            finish(where[(int) e.inode() - 1], e);
        }
        return total;
    }

    /** The entries to extract: the named ones, their subtrees and the directories above them. */
    private static BitSet select(ModuleImage image, List<String> paths) throws ImageException {
        int n = image.entryCount();
        BitSet chosen = new BitSet(n);
        if (paths.isEmpty()) {
            chosen.set(0, n);
            return chosen;
        }
        for (String path : paths) {
            // A link named last is extracted as the link, as tar extracts members.
            ImageEntry e = image.resolve(path, false);
            if (e == null) {
                throw new ImageException(path + ": not in the image");
            }
            for (ImageEntry up = e; !up.isRoot(); up = image.parent(up)) {
                chosen.set((int) up.inode() - 1);
            }
            chosen.set(0);
            markSubtree(image, e, chosen);
        }
        return chosen;
    }

    private static void markSubtree(ModuleImage image, ImageEntry e, BitSet chosen) {
        chosen.set((int) e.inode() - 1);
        for (ImageEntry c : image.list(e)) {
            markSubtree(image, c, chosen);
        }
    }

    private static void writeFile(ModuleImage image, ImageEntry e, Path p) throws IOException {
        // CREATE_NEW fails on any existing name, a dangling link included: nothing is followed.
        try (OutputStream out = Files.newOutputStream(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS);
             InputStream in = image.newInputStream(e)) {
            in.transferTo(out);
        }
    }

    /**
     * Owner (when running as root), mode and mtime, without following links. The owner comes
     * first: chown(2) clears the setuid and setgid bits, so a mode set before it would lose them.
     */
    private static void finish(Path p, ImageEntry e) throws IOException {
        if (RUNNING_AS_ROOT) {
            Files.setAttribute(p, "unix:uid", e.uid(), LinkOption.NOFOLLOW_LINKS);
            Files.setAttribute(p, "unix:gid", e.gid(), LinkOption.NOFOLLOW_LINKS);
        }
        if (!e.isSymlink()) {
            Files.setAttribute(p, "unix:mode", e.permissions(), LinkOption.NOFOLLOW_LINKS);
        }
        FileTimes.setMtime(p, e.mtimeSeconds(), e.mtimeNanos());
    }

    private static final boolean RUNNING_AS_ROOT = "root".equals(System.getProperty("user.name"));
}

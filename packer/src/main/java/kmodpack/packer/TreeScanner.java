package kmodpack.packer;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;

import kmodpack.image.ImageWriter.Node;

/**
 * Reads a directory tree's metadata into {@link Node}s: directories, regular files and symbolic
 * links (never followed). Contents are not read here; each file node opens its file when the
 * writer reaches it, so memory holds metadata only.
 */
public final class TreeScanner {
    private TreeScanner() {
    }

    /** Thrown for a tree entry that cannot go into an image; the message names it. */
    public static final class UnsupportedEntryException extends IOException {
        public UnsupportedEntryException(String message) {
            super(message);
        }
    }

    public static Node scan(Path root) throws IOException {
        return scan(root, Map.of());
    }

    /**
     * Scans the tree, with the files of {@code replaced} (names in the top directory) holding the
     * given bytes instead of the tree's: added when missing, keeping the tree's mode, owner and
     * mtime otherwise. For depmod's files computed afresh.
     */
    public static Node scan(Path root, Map<String, byte[]> replaced) throws IOException {
        Map<String, Object> a = Files.readAttributes(root, "unix:mode,uid,gid,lastModifiedTime");
        Instant t = ((FileTime) a.get("lastModifiedTime")).toInstant();
        Node node = Node.directory("", (Integer) a.get("mode"), (Integer) a.get("uid"), (Integer) a.get("gid"),
                t.getEpochSecond(), t.getNano());
        java.util.Set<String> pending = new java.util.HashSet<>(replaced.keySet());
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                byte[] b = replaced.get(name);
                if (b != null && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    Map<String, Object> f = Files.readAttributes(p, "unix:mode,uid,gid,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
                    Instant ft = ((FileTime) f.get("lastModifiedTime")).toInstant();
                    node.add(Node.file(name, (Integer) f.get("mode"), (Integer) f.get("uid"), (Integer) f.get("gid"),
                            ft.getEpochSecond(), ft.getNano(), b.length, () -> new java.io.ByteArrayInputStream(b)));
                    pending.remove(name);
                } else if (b == null) {
                    node.add(scanEntry(p));
                } else {
                    throw new UnsupportedEntryException(p + ": not a regular file, cannot hold depmod's output");
                }
            }
        }
        for (String name : pending) {
            byte[] b = replaced.get(name);
            node.add(Node.file(name, 0644, 0, 0, t.getEpochSecond(), t.getNano(), b.length, () -> new java.io.ByteArrayInputStream(b)));
        }
        return node;
    }

    private static void scanChildren(Path dir, Node into) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                into.add(scanEntry(p));
            }
        }
    }

    private static Node scanEntry(Path p) throws IOException {
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,lastModifiedTime,size,isDirectory,isRegularFile,isSymbolicLink",
                LinkOption.NOFOLLOW_LINKS);
        Instant t = ((FileTime) a.get("lastModifiedTime")).toInstant();
        int mode = (Integer) a.get("mode");
        int uid = (Integer) a.get("uid");
        int gid = (Integer) a.get("gid");
        String name = p.getFileName().toString();
        try {
            if ((Boolean) a.get("isSymbolicLink")) {
                return Node.symlink(name, mode, uid, gid, t.getEpochSecond(), t.getNano(), Files.readSymbolicLink(p).toString());
            }
            if ((Boolean) a.get("isDirectory")) {
                Node d = Node.directory(name, mode, uid, gid, t.getEpochSecond(), t.getNano());
                scanChildren(p, d);
                return d;
            }
            if ((Boolean) a.get("isRegularFile")) {
                long size = (Long) a.get("size");
                return Node.file(name, mode, uid, gid, t.getEpochSecond(), t.getNano(), size,
                        () -> Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS));
            }
        } catch (IllegalArgumentException e) {
            throw new UnsupportedEntryException(p + ": " + e.getMessage());
        }
        throw new UnsupportedEntryException(p + ": " + typeName(mode) + " cannot go into an image (only directories, regular files and symbolic links)");
    }

    private static String typeName(int mode) {
        switch (mode & 0170000) {
            case 0010000: return "named pipe";
            case 0140000: return "socket";
            case 0020000: return "character device";
            case 0060000: return "block device";
            default: return "special file";
        }
    }
}

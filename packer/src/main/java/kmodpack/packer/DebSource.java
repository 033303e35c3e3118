package kmodpack.packer;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;

import kmodpack.depmod.Depmod;
import kmodpack.depmod.ModuleFiles;
import kmodpack.image.ImageException;
import kmodpack.image.ImageWriter.Node;

/**
 * A Debian kernel package as the source of an image's entries, read straight from the .deb.
 *
 * <p>Two passes over the archive. The first ({@link #scan}) checks every name, keeps the
 * metadata of the entries under {@code lib/modules/VERSION} (or {@code usr/lib/modules/VERSION}),
 * hands each module's bytes to depmod and drops them, and passes the kernel files of
 * {@code boot/} to a callback. The second happens while the image is written: each file's
 * content is read from the archive again when the writer asks for it. Debian's data.tar lists
 * files in the writer's order, so the second pass is one sequential read; a file asked for
 * out of order is served from a bounded buffer of skipped entries, or by reading the archive
 * again from the start. Memory holds metadata, not modules.
 */
public final class DebSource {
    /** A module or depmod input larger than this is refused (the largest Debian module: 20 MB). */
    static final long MAX_MODULE_BYTES = 512L << 20;
    /** Entries skipped on the way to a later one and kept for when the writer asks for them. */
    static final long MAX_BUFFERED_BYTES = 64L << 20;

    /** Called with each regular file of the package's boot/ directory, its name and its bytes as a stream. */
    @FunctionalInterface
    public interface BootFileSink {
        void accept(String name, TarArchiveEntry entry, InputStream content) throws IOException;
    }

    private record Item(int seq, String rel, char type, int mode, int uid, int gid, long seconds, int nanos,
                        long size, String link) {
    }

    private final Path deb;
    private final String version;
    private final List<Item> items;
    private final Map<String, byte[]> depmodFiles;

    private DebSource(Path deb, String version, List<Item> items, Map<String, byte[]> depmodFiles) {
        this.deb = deb;
        this.version = version;
        this.items = items;
        this.depmodFiles = depmodFiles;
    }

    public String version() {
        return version;
    }

    /** First pass: reads the package, runs depmod over its modules. */
    public static DebSource scan(Path deb, BootFileSink boot, Consumer<String> warnings) throws IOException {
        Depmod depmod = new Depmod(warnings);
        Map<String, byte[]> inputs = new HashMap<>();
        List<Item> items = new ArrayList<>();
        Map<String, Item> byPath = new HashMap<>();
        String version = null;
        int modules = 0;
        try (DebArchive a = DebArchive.open(deb)) {
            int seq = -1;
            TarArchiveEntry e;
            while ((e = a.next()) != null) {
                seq++;
                List<String> path = checkedPath(deb, e.getName());
                int base = moduleTreeBase(path);
                if (base < 0) {
                    if (path.size() == 2 && path.get(0).equals("boot") && e.isFile()) {
                        boot.accept(path.get(1), e, a.entryStream());
                    }
                    continue;
                }
                String v = path.get(base);
                if (version == null) {
                    version = v;
                } else if (!version.equals(v)) {
                    throw new ImageException(deb + ": holds more than one kernel (" + version + " and " + v + ")");
                }
                String rel = String.join("/", path.subList(base + 1, path.size()));
                Item item = item(deb, seq, rel, e);
                if (byPath.putIfAbsent(rel, item) != null) {
                    throw new ImageException(deb + ": " + e.getName() + " appears twice");
                }
                items.add(item);
                if (item.type == 'f') {
                    String name = path.get(path.size() - 1);
                    if (rel.equals(name) && Depmod.INPUT_FILES.contains(name)) {
                        inputs.put(name, a.readEntry(e, MAX_MODULE_BYTES));
                    } else if (ModuleFiles.isModule(name) && !excluded(path.subList(base + 1, path.size()))) {
                        modules++;
                        if (depmod.wants(rel)) {
                            depmod.add(rel, depmod.read(rel, a.readEntry(e, MAX_MODULE_BYTES)));
                        }
                    }
                }
            }
        }
        if (version == null) {
            throw new ImageException(deb + ": not a kernel package (nothing under lib/modules/VERSION)");
        }
        if (modules == 0) {
            throw new ImageException(deb + ": no modules under lib/modules/" + version);
        }
        Map<String, byte[]> files = depmod.output(inputs.get("modules.order"), inputs.get("modules.builtin"),
                inputs.get("modules.builtin.modinfo"));
        return new DebSource(deb, version, items, files);
    }

    /** Where the version component is in lib/modules/VERSION/... or usr/lib/modules/VERSION/...; -1 for other paths. */
    private static int moduleTreeBase(List<String> p) {
        if (p.size() >= 3 && p.get(0).equals("lib") && p.get(1).equals("modules")) {
            return 2;
        }
        if (p.size() >= 4 && p.get(0).equals("usr") && p.get(1).equals("lib") && p.get(2).equals("modules")) {
            return 3;
        }
        return -1;
    }

    /** kmod's depmod skips directories (and files) called build or source. */
    private static boolean excluded(List<String> rel) {
        return rel.contains("build") || rel.contains("source");
    }

    /** The components of an archive name; hostile names (absolute, "..", NUL) are refused. */
    static List<String> checkedPath(Path deb, String name) throws ImageException {
        if (name.startsWith("/") || name.indexOf('\0') >= 0) {
            throw new ImageException(deb + ": unsafe name '" + printable(name) + "' in data.tar");
        }
        List<String> out = new ArrayList<>();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                throw new ImageException(deb + ": unsafe name '" + printable(name) + "' in data.tar");
            }
            out.add(c);
        }
        return out;
    }

    private static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        for (char c : s.toCharArray()) {
            sb.append(c < 0x20 || c == 0x7f ? '?' : c);
        }
        return sb.length() > 200 ? sb.substring(0, 200) + "..." : sb.toString();
    }

    private static Item item(Path deb, int seq, String rel, TarArchiveEntry e) throws ImageException {
        java.time.Instant t = e.getLastModifiedTime().toInstant();
        int mode = e.getMode() & 07777;
        int uid = (int) e.getLongUserId();
        int gid = (int) e.getLongGroupId();
        String where = rel.isEmpty() ? "the module directory" : rel;
        if (e.isDirectory()) {
            return new Item(seq, rel, 'd', mode, uid, gid, t.getEpochSecond(), t.getNano(), 0, null);
        }
        if (rel.isEmpty()) {
            throw new ImageException(deb + ": lib/modules/VERSION is not a directory");
        }
        if (e.isSymbolicLink()) {
            String target = e.getLinkName();
            if (!staysInside(rel, target)) {
                throw new ImageException(deb + ": link " + where + " points out of the module tree (" + printable(target) + ")");
            }
            return new Item(seq, rel, 'l', mode, uid, gid, t.getEpochSecond(), t.getNano(), 0, target);
        }
        if (e.isLink()) {
            throw new ImageException(deb + ": " + where + " is a hard link, which an image cannot hold");
        }
        if (e.isFile()) {
            return new Item(seq, rel, 'f', mode, uid, gid, t.getEpochSecond(), t.getNano(), e.getSize(), null);
        }
        throw new ImageException(deb + ": " + where + " is a special file, which an image cannot hold");
    }

    /** Whether a relative link target, read from the link's directory, stays within the module tree. */
    static boolean staysInside(String linkRel, String target) {
        if (target.isEmpty() || target.startsWith("/") || target.indexOf('\0') >= 0) {
            return false;
        }
        int depth = linkRel.split("/").length - 1;
        for (String c : target.split("/")) {
            if (c.equals("..")) {
                if (--depth < 0) {
                    return false;
                }
            } else if (!c.isEmpty() && !c.equals(".")) {
                depth++;
            }
        }
        return true;
    }

    /**
     * The tree to write (the package's module directory, with depmod's files computed here) whose
     * files are read from the archive again, through {@code replay}, when the writer reaches them.
     */
    public Node tree(Replay replay) throws ImageException {
        long newest = 0;
        Item rootItem = null;
        for (Item i : items) {
            newest = Math.max(newest, i.seconds);
            if (i.rel.isEmpty()) {
                rootItem = i;
            }
        }
        // Defaults for what the package does not say: directories it implies, depmod's files.
        long seconds = rootItem != null ? rootItem.seconds : newest;
        int nanos = rootItem != null ? rootItem.nanos : 0;
        Node root = rootItem != null
                ? Node.directory("", rootItem.mode, rootItem.uid, rootItem.gid, rootItem.seconds, rootItem.nanos)
                : Node.directory("", 0755, 0, 0, seconds, 0);
        Map<String, Node> dirs = new HashMap<>();
        dirs.put("", root);
        // Directories first, shortest paths first, so a parent exists before its children.
        List<Item> sorted = new ArrayList<>(items);
        sorted.sort(java.util.Comparator.comparingInt((Item i) -> i.type == 'd' ? 0 : 1)
                .thenComparingInt(i -> i.rel.split("/").length));
        for (Item i : sorted) {
            if (i.rel.isEmpty() || (i.type == 'f' && depmodFiles.containsKey(i.rel))) {
                continue;
            }
            int slash = i.rel.lastIndexOf('/');
            String name = i.rel.substring(slash + 1);
            Node parent = directory(i.rel.substring(0, Math.max(slash, 0)), dirs, items, seconds, nanos);
            try {
                Node n = switch (i.type) {
                    case 'd' -> Node.directory(name, i.mode, i.uid, i.gid, i.seconds, i.nanos);
                    case 'l' -> Node.symlink(name, 0777, i.uid, i.gid, i.seconds, i.nanos, i.link);
                    default -> {
                        Item f = i;
                        yield Node.file(name, i.mode, i.uid, i.gid, i.seconds, i.nanos, i.size,
                                () -> replay.open(f.seq, f.rel, f.size));
                    }
                };
                if (i.type == 'd') {
                    if (dirs.containsKey(i.rel)) {
                        continue; // made earlier as an implied parent: cannot happen, directories go first
                    }
                    dirs.put(i.rel, n);
                }
                parent.add(n);
            } catch (IllegalArgumentException e) {
                throw new ImageException(deb + ": " + i.rel + ": " + e.getMessage());
            }
        }
        for (Map.Entry<String, byte[]> f : depmodFiles.entrySet()) {
            byte[] b = f.getValue();
            root.add(Node.file(f.getKey(), 0644, 0, 0, seconds, nanos, b.length, () -> new ByteArrayInputStream(b)));
        }
        return root;
    }

    private Node directory(String rel, Map<String, Node> dirs, List<Item> all, long seconds, int nanos) throws ImageException {
        Node d = dirs.get(rel);
        if (d != null) {
            return d;
        }
        for (Item i : all) {
            if (i.rel.equals(rel) && i.type != 'd') {
                throw new ImageException(deb + ": " + rel + " is not a directory but holds entries");
            }
        }
        int slash = rel.lastIndexOf('/');
        Node parent = directory(rel.substring(0, Math.max(slash, 0)), dirs, all, seconds, nanos);
        try {
            d = parent.add(Node.directory(rel.substring(slash + 1), 0755, 0, 0, seconds, nanos));
        } catch (IllegalArgumentException e) {
            throw new ImageException(deb + ": " + rel + ": " + e.getMessage());
        }
        dirs.put(rel, d);
        return d;
    }

    /** Reads the files' bytes for {@link #tree}: the second pass. */
    public Replay replay() {
        BitSet wanted = new BitSet();
        for (Item i : items) {
            if (i.type == 'f' && !depmodFiles.containsKey(i.rel)) {
                wanted.set(i.seq);
            }
        }
        return new Replay(deb, wanted);
    }

    /** Second pass: serves file contents from the archive in whatever order they are asked for. */
    public static final class Replay implements AutoCloseable {
        private final Path deb;
        private final BitSet unserved;
        private final Map<Integer, byte[]> buffered = new HashMap<>();
        private long bufferedBytes;
        private DebArchive archive;
        private int position; // sequence number of the next entry the archive will give

        Replay(Path deb, BitSet wanted) {
            this.deb = deb;
            this.unserved = (BitSet) wanted.clone();
        }

        InputStream open(int seq, String rel, long size) throws IOException {
            unserved.clear(seq);
            byte[] b = buffered.remove(seq);
            if (b != null) {
                bufferedBytes -= b.length;
                return new ByteArrayInputStream(b);
            }
            if (archive == null || position > seq) {
                if (archive != null) {
                    archive.close();
                }
                archive = DebArchive.open(deb);
                position = 0;
            }
            while (true) {
                TarArchiveEntry e = archive.next();
                int at = position++;
                if (e == null) {
                    throw new ImageException(deb + ": the package changed while it was read (" + rel + " is gone)");
                }
                if (at == seq) {
                    if (!e.isFile() || e.getSize() != size || !e.getName().endsWith(rel)) {
                        throw new ImageException(deb + ": the package changed while it was read (" + rel + ")");
                    }
                    return archive.entryStream();
                }
                if (unserved.get(at) && e.isFile() && bufferedBytes + e.getSize() <= MAX_BUFFERED_BYTES) {
                    byte[] skipped = archive.readEntry(e, MAX_BUFFERED_BYTES);
                    buffered.put(at, skipped);
                    bufferedBytes += skipped.length;
                }
            }
        }

        @Override
        public void close() throws IOException {
            if (archive != null) {
                archive.close();
            }
        }
    }
}

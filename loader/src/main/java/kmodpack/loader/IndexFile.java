package kmodpack.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reader for kmod's binary index files ({@code modules.dep.bin}, {@code modules.alias.bin}, ...):
 * a Patricia trie, big-endian, magic 0xB007F457. A lookup walks only the nodes on its key's path;
 * nothing is parsed up front.
 */
public final class IndexFile {
    static final int MAGIC = 0xB007F457;
    static final int VERSION_MAJOR = 2;
    /** Magic, version and root offset: libkmod opens nothing shorter. */
    static final int HEADER_SIZE = 12;
    private static final int NODE_PREFIX = 0x80000000;
    private static final int NODE_VALUES = 0x40000000;
    private static final int NODE_CHILDS = 0x20000000;
    private static final int NODE_MASK = 0x0FFFFFFF;
    /** Longer than any key depmod writes (aliases are under 300 bytes); deeper means a cycle. */
    private static final int MAX_KEY_LENGTH = 4096;

    /** A value with the priority depmod gave it (its place in modules.order). */
    public record Value(int priority, String value) {}

    private final byte[] data;
    private final int rootOffset;
    private final String name;

    public IndexFile(byte[] data, String name) throws IOException {
        this.data = data;
        this.name = name;
        if (data.length < HEADER_SIZE) throw new IOException(name + ": too short for an index");
        if (u32(0) != MAGIC) throw new IOException(name + ": not a kmod index (bad magic)");
        if (u32(4) >>> 16 != VERSION_MAJOR) throw new IOException(name + ": unsupported index version");
        rootOffset = u32(8);
    }

    public String name() {
        return name;
    }

    private int u32(int off) {
        if (off < 0 || off + 4 > data.length) throw new IndexCorrupt(name);
        return ((data[off] & 0xff) << 24) | ((data[off + 1] & 0xff) << 16)
                | ((data[off + 2] & 0xff) << 8) | (data[off + 3] & 0xff);
    }

    /** Thrown when an offset points outside the file: the index is damaged. */
    public static final class IndexCorrupt extends RuntimeException {
        IndexCorrupt(String name) {
            this(name, "offset out of range");
        }

        IndexCorrupt(String name, String why) {
            super(name + ": damaged index (" + why + ")");
        }
    }

    private final class Node {
        String prefix = "";
        int first = 128, last = 0; // no children
        int childTable;            // file offset of the child offsets
        int valueCount;
        int valuesAt;

        Node(int offset) {
            int p = offset & NODE_MASK;
            // A node without flags holds nothing: depmod puts the root of an empty trie there,
            // at the very end of the file.
            if (p > data.length) throw new IndexCorrupt(name);
            if ((offset & NODE_PREFIX) != 0) {
                int end = strEnd(p);
                prefix = new String(data, p, end - p, StandardCharsets.ISO_8859_1);
                p = end + 1;
            }
            if ((offset & NODE_CHILDS) != 0) {
                if (p + 2 > data.length) throw new IndexCorrupt(name);
                first = data[p] & 0xff;
                last = data[p + 1] & 0xff;
                childTable = p + 2;
                p = childTable + 4 * Math.max(0, last - first + 1);
            }
            if ((offset & NODE_VALUES) != 0) {
                valueCount = u32(p);
                valuesAt = p + 4;
            }
        }

        /** libkmod compares a signed char against the unsigned child range. */
        Node child(int ch) {
            if (ch >= 128 || ch < first || ch > last) return null;
            int off = u32(childTable + 4 * (ch - first));
            return (off & NODE_MASK) == 0 ? null : new Node(off);
        }

        String firstValue() {
            if (valueCount == 0) return null;
            int p = valuesAt + 4;
            return new String(data, p, strEnd(p) - p, StandardCharsets.ISO_8859_1);
        }

        void addValues(List<Value> out) {
            int p = valuesAt;
            for (int i = 0; i < valueCount; i++) {
                int prio = u32(p);
                int s = p + 4, e = strEnd(s);
                addValue(out, prio, new String(data, s, e - s, StandardCharsets.ISO_8859_1));
                p = e + 1;
            }
        }
    }

    private int strEnd(int p) {
        int e = p;
        while (e < data.length && data[e] != 0) e++;
        if (e >= data.length) throw new IndexCorrupt(name);
        return e;
    }

    /** Inserted before the first value whose priority is not lower, as libkmod's add_value. */
    private static void addValue(List<Value> out, int prio, String v) {
        int i = 0;
        while (i < out.size() && Integer.compareUnsigned(out.get(i).priority(), prio) < 0) i++;
        out.add(i, new Value(prio, v));
    }

    private Node root() {
        return (rootOffset & NODE_MASK) == 0 ? null : new Node(rootOffset);
    }

    /** Exact lookup: the first value of {@code key}, or null. */
    public String search(String key) {
        Node node = root();
        int i = 0;
        final int kn = key.length();
        while (node != null) {
            String pre = node.prefix;
            for (int j = 0; j < pre.length(); j++) {
                if (i + j >= kn || pre.charAt(j) != key.charAt(i + j)) return null;
            }
            i += pre.length();
            if (i == kn) return node.firstValue();
            node = node.child(key.charAt(i));
            i++;
        }
        return null;
    }

    /** Lookup in an index whose keys may be patterns: all values of keys that match {@code key}. */
    public List<Value> searchWild(String key) {
        List<Value> out = new ArrayList<>(2);
        Node node = root();
        StringBuilder buf = new StringBuilder();
        int i = 0;
        final int kn = key.length();
        while (node != null) {
            String pre = node.prefix;
            for (int j = 0; j < pre.length(); j++) {
                char ch = pre.charAt(j);
                if (ch == '*' || ch == '?' || ch == '[') {
                    searchWildAll(node, j, buf, key.substring(Math.min(i + j, kn)), out, new int[1]);
                    return out;
                }
                if (i + j >= kn || ch != key.charAt(i + j)) return out;
            }
            i += pre.length();
            String rest = key.substring(Math.min(i, kn));
            for (char w : new char[] {'*', '?', '['}) {
                Node child = node.child(w);
                if (child != null) {
                    buf.append(w);
                    searchWildAll(child, 0, buf, rest, out, new int[1]);
                    buf.setLength(buf.length() - 1);
                }
            }
            if (i >= kn) {
                node.addValues(out);
                return out;
            }
            node = node.child(key.charAt(i));
            i++;
        }
        return out;
    }

    /**
     * Every key under a wildcard is matched with fnmatch against the rest of the key. The walk
     * is bounded: in a tree every node is visited once and takes at least one byte of the file,
     * and keys are short; a damaged index whose nodes point back at their ancestors (a cycle)
     * or share children would otherwise recurse until the stack runs out.
     */
    private void searchWildAll(Node node, int j, StringBuilder buf, String subkey, List<Value> out, int[] visits) {
        if (++visits[0] > data.length || buf.length() > MAX_KEY_LENGTH) {
            throw new IndexCorrupt(name, "its nodes form a cycle");
        }
        int mark = buf.length();
        buf.append(node.prefix, j, node.prefix.length());
        for (int ch = node.first; ch <= node.last; ch++) {
            Node child = node.child(ch);
            if (child == null) continue;
            buf.append((char) ch);
            searchWildAll(child, 0, buf, subkey, out, visits);
            buf.setLength(buf.length() - 1);
        }
        if (node.valueCount > 0 && Fnmatch.matches(buf.toString(), subkey)) node.addValues(out);
        buf.setLength(mark);
    }
}

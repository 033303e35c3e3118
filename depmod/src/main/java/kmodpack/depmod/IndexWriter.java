package kmodpack.depmod;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes kmod's binary index ({@code modules.*.bin}): a Patricia trie over 7-bit ASCII keys,
 * big-endian, magic 0xB007F457, version 2.1. The loader's {@code IndexFile} reads it.
 *
 * <p>The bytes follow kmod's depmod exactly: nodes are written children first (post-order), so
 * a node's offset is known when its parent is written and the root comes last; a node is its
 * optional NUL-terminated prefix, then {@code first}/{@code last} child bytes and a table of
 * {@code last - first + 1} child offsets (0 for a gap), then a value count and
 * {@code {priority, NUL-terminated value}} entries. The top nibble of an offset says which of the
 * three parts the node has. A key's values are kept ordered by priority, a new value going before
 * the values of equal priority already there.
 */
public final class IndexWriter {
    private static final int MAGIC = 0xB007F457;
    private static final int VERSION = 0x00020001;
    private static final int CHILDMAX = 128;
    private static final int NODE_PREFIX = 0x80000000;
    private static final int NODE_VALUES = 0x40000000;
    private static final int NODE_CHILDS = 0x20000000;

    private static final class Value {
        final int priority;
        final byte[] value;
        Value next;

        Value(int priority, byte[] value) {
            this.priority = priority;
            this.value = value;
        }
    }

    private static final class Node {
        byte[] prefix;
        Value values;
        int first = CHILDMAX;
        int last;
        Node[] children = new Node[CHILDMAX];

        Node(byte[] prefix) {
            this.prefix = prefix;
        }
    }

    private final Node root = new Node(new byte[0]);

    /** Adds a value under a key; returns whether the key already held the same value. */
    public boolean insert(String key, String value, int priority) {
        byte[] k = ascii(key);
        byte[] v = ascii(value);
        Node node = root;
        int i = 0;
        while (true) {
            int j = 0;
            for (; j < node.prefix.length; j++) {
                int ch = node.prefix[j];
                if (i + j >= k.length || ch != k[i + j]) {
                    // Split: this node keeps prefix[0..j), a new child at prefix[j] takes the rest.
                    Node n = new Node(java.util.Arrays.copyOfRange(node.prefix, j + 1, node.prefix.length));
                    n.values = node.values;
                    n.first = node.first;
                    n.last = node.last;
                    n.children = node.children;
                    node.prefix = java.util.Arrays.copyOf(node.prefix, j);
                    node.values = null;
                    node.children = new Node[CHILDMAX];
                    node.first = ch;
                    node.last = ch;
                    node.children[ch] = n;
                    break;
                }
            }
            i += j;
            if (i == k.length) {
                return addValue(node, v, priority);
            }
            int ch = k[i];
            if (node.children[ch] == null) {
                node.first = Math.min(node.first, ch);
                node.last = Math.max(node.last, ch);
                Node child = new Node(java.util.Arrays.copyOfRange(k, i + 1, k.length));
                node.children[ch] = child;
                addValue(child, v, priority);
                return false;
            }
            node = node.children[ch];
            i++;
        }
    }

    private static boolean addValue(Node node, byte[] value, int priority) {
        boolean duplicate = false;
        for (Value v = node.values; v != null; v = v.next) {
            duplicate |= java.util.Arrays.equals(v.value, value);
        }
        Value nv = new Value(priority, value);
        // Unsigned comparison, as kmod's priority is an unsigned int.
        if (node.values == null || Integer.compareUnsigned(node.values.priority, priority) >= 0) {
            nv.next = node.values;
            node.values = nv;
        } else {
            Value p = node.values;
            while (p.next != null && Integer.compareUnsigned(p.next.priority, priority) < 0) {
                p = p.next;
            }
            nv.next = p.next;
            p.next = nv;
        }
        return duplicate;
    }

    private static byte[] ascii(String s) {
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        for (byte c : b) {
            if (c < 0 || c == 0) {
                throw new IllegalArgumentException("module index: only 7-bit ASCII is supported: " + s);
            }
        }
        return b;
    }

    /** The index file's bytes. */
    public byte[] toByteArray() {
        Out out = new Out();
        out.u32(MAGIC);
        out.u32(VERSION);
        out.u32(0);
        int rootOffset = write(root, out);
        byte[] b = out.toByteArray();
        b[8] = (byte) (rootOffset >>> 24);
        b[9] = (byte) (rootOffset >>> 16);
        b[10] = (byte) (rootOffset >>> 8);
        b[11] = (byte) rootOffset;
        return b;
    }

    private static int write(Node node, Out out) {
        if (node == null) {
            return 0;
        }
        int[] childOffsets = null;
        if (node.first < CHILDMAX) {
            childOffsets = new int[node.last - node.first + 1];
            for (int i = 0; i < childOffsets.length; i++) {
                childOffsets[i] = write(node.children[node.first + i], out);
            }
        }
        int offset = out.size();
        if (node.prefix.length > 0) {
            out.write(node.prefix, 0, node.prefix.length);
            out.write(0);
            offset |= NODE_PREFIX;
        }
        if (childOffsets != null) {
            out.write(node.first);
            out.write(node.last);
            for (int c : childOffsets) {
                out.u32(c);
            }
            offset |= NODE_CHILDS;
        }
        if (node.values != null) {
            int n = 0;
            for (Value v = node.values; v != null; v = v.next) {
                n++;
            }
            out.u32(n);
            for (Value v = node.values; v != null; v = v.next) {
                out.u32(v.priority);
                out.write(v.value, 0, v.value.length);
                out.write(0);
            }
            offset |= NODE_VALUES;
        }
        return offset;
    }

    private static final class Out extends ByteArrayOutputStream {
        Out() {
            super(1 << 16);
        }

        void u32(int v) {
            write(v >>> 24);
            write(v >>> 16);
            write(v >>> 8);
            write(v);
        }
    }
}

package kmodpack.fuse;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The FUSE options of a kmodpack mount: fixed ones, sensible defaults, and the user's -o. */
public final class MountOptions {
    /** The file system type in the mount table, and for mount(8) / fstab. */
    public static final String TYPE = "fuse.kmodpack";
    public static final String SUBTYPE = "kmodpack";
    /** The image never changes while mounted: the kernel may cache names and attributes for a day. */
    static final String TIMEOUT = "86400";

    private MountOptions() {
    }

    /** Splits -o arguments at commas (a comma escaped with a backslash stays in its option). */
    public static List<String> split(List<String> args) {
        List<String> out = new ArrayList<>();
        if (args == null) {
            return out;
        }
        for (String a : args) {
            StringBuilder cur = new StringBuilder();
            for (int i = 0; i < a.length(); i++) {
                char c = a.charAt(i);
                if (c == '\\' && i + 1 < a.length()) {
                    cur.append(c).append(a.charAt(++i));
                } else if (c == ',') {
                    add(out, cur);
                } else {
                    cur.append(c);
                }
            }
            add(out, cur);
        }
        return out;
    }

    private static void add(List<String> out, StringBuilder cur) {
        if (cur.length() > 0) {
            out.add(cur.toString());
        }
        cur.setLength(0);
    }

    public static boolean has(List<String> options, String name) {
        for (String o : options) {
            if (o.equals(name) || o.startsWith(name + "=")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The single -o argument handed to libfuse: defaults first so that the user's options
     * override them, read-only last so that nothing overrides it.
     *
     * @throws MountException for options that contradict a read-only image server
     */
    public static String forLibfuse(List<String> user, Path image) throws MountException {
        List<String> all = new ArrayList<>();
        all.add("default_permissions");
        all.add("kernel_cache");
        all.add("use_ino");
        all.add("attr_timeout=" + TIMEOUT);
        all.add("entry_timeout=" + TIMEOUT);
        all.add("negative_timeout=" + TIMEOUT);
        all.add("fsname=" + escape(image.toString()));
        all.add("subtype=" + SUBTYPE);
        for (String o : user) {
            if (o.equals("rw")) {
                throw new MountException("-o rw: an image is served read-only");
            }
            if (o.equals("direct_io")) {
                throw new MountException("-o direct_io: not supported (kmod tools mmap the index files, which direct I/O forbids)");
            }
            if (o.startsWith("subtype=")) {
                throw new MountException("-o " + o + ": the subtype is always " + SUBTYPE);
            }
            if (o.equals("ro")) {
                continue;
            }
            all.add(o);
        }
        all.add("ro");
        return String.join(",", all);
    }

    /** libfuse splits options at commas; a backslash keeps one (and itself) literal. */
    static String escape(String s) {
        return s.replace("\\", "\\\\").replace(",", "\\,");
    }
}

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

    /**
     * What the kernel-protocol server passes to mount(2): the flags (read-only, and by default
     * nosuid and nodev, as libfuse mounts), the file system's own options after "fd=...," and
     * whether a non-empty mount point was allowed.
     */
    record Kernel(long flags, String data, boolean nonempty) {
    }

    /**
     * The user's -o options as mount(2) takes them, or null when one of them is an option only
     * libfuse knows (uid=, umask=, debug, ...): such a mount is left to the libfuse server, which
     * honours it (or refuses it) as it always did.
     */
    static Kernel forKernel(List<String> user) {
        long flags = LinuxCalls.MS_RDONLY | LinuxCalls.MS_NOSUID | LinuxCalls.MS_NODEV;
        StringBuilder data = new StringBuilder(",default_permissions");
        boolean nonempty = false;
        for (String o : user) {
            switch (o) {
                case "ro", "default_permissions", "kernel_cache", "use_ino", "async" -> { }
                case "nonempty" -> nonempty = true;
                case "allow_other" -> data.append(",allow_other");
                case "suid" -> flags &= ~LinuxCalls.MS_NOSUID;
                case "nosuid" -> flags |= LinuxCalls.MS_NOSUID;
                case "dev" -> flags &= ~LinuxCalls.MS_NODEV;
                case "nodev" -> flags |= LinuxCalls.MS_NODEV;
                case "exec" -> flags &= ~LinuxCalls.MS_NOEXEC;
                case "noexec" -> flags |= LinuxCalls.MS_NOEXEC;
                case "atime" -> flags &= ~LinuxCalls.MS_NOATIME;
                case "noatime" -> flags |= LinuxCalls.MS_NOATIME;
                case "nodiratime" -> flags |= LinuxCalls.MS_NODIRATIME;
                case "relatime" -> flags |= LinuxCalls.MS_RELATIME;
                case "norelatime" -> flags &= ~LinuxCalls.MS_RELATIME;
                case "strictatime" -> flags |= LinuxCalls.MS_STRICTATIME;
                case "sync" -> flags |= LinuxCalls.MS_SYNCHRONOUS;
                case "dirsync" -> flags |= LinuxCalls.MS_DIRSYNC;
                default -> {
                    if (o.matches("max_read=[0-9]{1,9}")) {
                        data.append(',').append(o);
                    } else {
                        return null;
                    }
                }
            }
        }
        return new Kernel(flags, data.toString(), nonempty);
    }

    /** libfuse splits options at commas; a backslash keeps one (and itself) literal. */
    static String escape(String s) {
        return s.replace("\\", "\\\\").replace(",", "\\,");
    }
}

package kmodpack.image;

/**
 * Settings for JNA, made before its first use, that keep it off two slow steps of its start.
 * On Linux JNA runs {@code /sbin/ldconfig -p} (a process: 20–40 ms of a short command) to list
 * fallback directories for libraries that dlopen cannot find by name; every library kmodpack
 * loads (libc, liblzma) is found by name, so the usual directories are given instead. JNA's own
 * native stub is unpacked from the jar to a temporary file at every start unless
 * {@code jna.boot.library.path} names a directory that holds it: bin/kmodpack passes the one
 * beside its class-data archive (see {@code kmodpack.cli.Training}).
 */
public final class JnaStart {
    private JnaStart() {
    }

    /** Call before the first use of JNA; changes nothing a caller has set. */
    public static synchronized void prepare() {
        if (System.getProperty("jna.platform.library.path") != null) {
            return;
        }
        String triplet = switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> "x86_64-linux-gnu";
            case "aarch64" -> "aarch64-linux-gnu";
            default -> null;
        };
        String dirs = "/usr/lib64:/lib64:/usr/lib:/lib";
        if (triplet != null) {
            dirs = "/usr/lib/" + triplet + ":/lib/" + triplet + ":" + dirs;
        }
        System.setProperty("jna.platform.library.path", dirs);
    }
}

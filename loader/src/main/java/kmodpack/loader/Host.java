package kmodpack.loader;

import java.nio.file.Path;

/**
 * Where the host's own files are: the modprobe.d directories, {@code /proc/cmdline} and
 * {@code /sys/module}. The real host is "/"; tests point it at a fake root directory, the way
 * kmod's own test suite redirects these paths.
 */
public final class Host {
    /** Directories read for configuration when no -C is given, in this order. */
    public static final String[] DEFAULT_CONFIG_DIRS = {
        "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
        "/lib/modprobe.d",
    };

    private final Path root;

    private Host(Path root) {
        this.root = root;
    }

    public static Host real() {
        return new Host(null);
    }

    public static Host under(Path fakeRoot) {
        return new Host(fakeRoot.toAbsolutePath());
    }

    /** Maps an absolute host path; relative paths stay relative to the working directory. */
    public Path path(String hostPath) {
        if (root == null || !hostPath.startsWith("/")) return Path.of(hostPath);
        return root.resolve(hostPath.substring(1));
    }

    public boolean isReal() {
        return root == null;
    }
}

package kmodpack.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The running kernel as modprobe sees it: {@code /sys/module} for state, reference counts,
 * holders and the supported module compression, and the module system calls. The sysfs root
 * comes from {@link Host}, the calls from {@link ModuleSyscalls}; both are replaced in tests.
 */
public final class Kernel {
    public enum InitState { LIVE, COMING, GOING }

    private final Host host;
    private final ModuleSyscalls syscalls;

    public Kernel(Host host, ModuleSyscalls syscalls) {
        this.host = host;
        this.syscalls = syscalls;
    }

    public ModuleSyscalls syscalls() {
        return syscalls;
    }

    private Path moduleDir(String name) {
        return host.path("/sys/module/" + name);
    }

    /** The module's state, or null when the kernel has no such module loaded. */
    public InitState initState(String name) {
        Path dir = moduleDir(name);
        try {
            String s = new String(Files.readAllBytes(dir.resolve("initstate")), StandardCharsets.ISO_8859_1);
            return switch (s) {
                case "live\n" -> InitState.LIVE;
                case "coming\n" -> InitState.COMING;
                case "going\n" -> InitState.GOING;
                default -> null;
            };
        } catch (IOException e) {
            // A module directory without initstate is one still being set up.
            return Files.isDirectory(dir) ? InitState.COMING : null;
        }
    }

    /** The reference count, or a negative errno (ENOENT when not loaded). */
    public int refcnt(String name) {
        try {
            String s = new String(Files.readAllBytes(moduleDir(name).resolve("refcnt")),
                    StandardCharsets.ISO_8859_1).trim();
            return Integer.parseInt(s);
        } catch (NoSuchFileException e) {
            return -Errno.ENOENT;
        } catch (IOException | NumberFormatException e) {
            return -Errno.EINVAL;
        }
    }

    /** Names of the modules that use this one, or null if they cannot be read. */
    public List<String> holders(String name) {
        List<String> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(moduleDir(name).resolve("holders"))) {
            for (Path p : ds) out.add(p.getFileName().toString());
        } catch (IOException e) {
            return null;
        }
        out.sort(null);
        return out;
    }

    /** The compression the kernel itself can undo ("xz", "zstd", "gzip"), or null. */
    public String compression() {
        try {
            return new String(Files.readAllBytes(host.path("/sys/module/compression")),
                    StandardCharsets.ISO_8859_1).trim();
        } catch (IOException e) {
            return null;
        }
    }
}

package kmodpack.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Real module trees for tests: Debian's current kernel packages, fetched, unpacked and
 * depmod'ed by scripts/fetch-kernel-tree (cached between runs).
 */
public final class KernelTrees {
    private KernelTrees() {
    }

    /** A tree: {@code root}/lib/modules/{@code version}. */
    public record Tree(Path root, String version) {
        public Path modulesDir() {
            return root.resolve("lib/modules").resolve(version);
        }
    }

    private static final Map<String, Tree> TREES = new ConcurrentHashMap<>();

    /** The project's top directory: from the kmodpack.home property, or found upwards from here. */
    public static Path projectHome() {
        String p = System.getProperty("kmodpack.home");
        if (p != null) {
            return Path.of(p).toAbsolutePath().normalize();
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.exists(d.resolve("scripts/fetch-kernel-tree"))) {
                return d;
            }
        }
        throw new IllegalStateException("cannot find the project's top directory");
    }

    /** amd64 or arm64. */
    public static Tree get(String arch) {
        return TREES.computeIfAbsent(arch, KernelTrees::fetch);
    }

    private static Tree fetch(String arch) {
        try {
            Process p = new ProcessBuilder(projectHome().resolve("scripts/fetch-kernel-tree").toString(), arch)
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor() != 0) {
                throw new IllegalStateException("scripts/fetch-kernel-tree " + arch + " failed");
            }
            String[] parts = out.split(" ");
            return new Tree(Path.of(parts[0]), parts[1]);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

package kmodpack.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** The Debian reference trees, located by the project's fetch script. */
final class TestTrees {
    private TestTrees() {}

    record Tree(Path root, String version) {
        Path moduleDir() {
            return root.resolve("lib/modules/" + version);
        }
    }

    /** A log that prints as modprobe does, for comparing messages with kmod's. */
    static Log printingLog(java.io.PrintStream err) {
        return new Log((prio, text) -> {
            err.print("modprobe: " + Log.levelName(prio) + ": " + text + "\n");
            err.flush();
        });
    }

    static Path projectRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("scripts/fetch-kernel-tree"))) p = p.getParent();
        if (p == null) throw new IllegalStateException("scripts/fetch-kernel-tree not found above " + Path.of("").toAbsolutePath());
        return p;
    }

    static Tree tree(String arch) throws IOException, InterruptedException {
        Process pr = new ProcessBuilder(projectRoot().resolve("scripts/fetch-kernel-tree").toString(), arch)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(pr.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        int rc = pr.waitFor();
        Assumptions.assumeTrue(rc == 0, "kernel tree for " + arch + " unavailable");
        String[] parts = out.split(" ");
        return new Tree(Path.of(parts[0]), parts[1]);
    }
}

package kmodpack.depmod;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.function.Consumer;

/** depmod over a module tree on disk: searches it as kmod does and writes the files into it. */
public final class TreeDepmod {
    private TreeDepmod() {
    }

    /** Computes the depmod files of lib/modules/VERSION at versionDir, by name in kmod's order. */
    public static Map<String, byte[]> compute(Path versionDir, Consumer<String> warnings) throws IOException {
        if (!Files.isDirectory(versionDir)) {
            throw new NoSuchFileException(versionDir.toString(), null, "no module tree (missing directory)");
        }
        Depmod depmod = new Depmod(warnings);
        search(depmod, versionDir, "");
        return depmod.output(readIfExists(versionDir.resolve("modules.order")),
                readIfExists(versionDir.resolve("modules.builtin")),
                readIfExists(versionDir.resolve("modules.builtin.modinfo")));
    }

    /** Directory order as readdir gives it (it decides only between modules of the same name); links are followed. */
    private static void search(Depmod depmod, Path dir, String rel) throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.equals("build") || name.equals("source")) {
                    continue;
                }
                String relPath = rel + name;
                if (Files.isDirectory(p)) {
                    search(depmod, p, relPath + "/");
                } else if (Files.isRegularFile(p) && ModuleFiles.isModule(name) && depmod.wants(relPath)) {
                    depmod.add(relPath, depmod.read(relPath, Files.readAllBytes(p)));
                }
            }
        }
    }

    private static byte[] readIfExists(Path p) throws IOException {
        try {
            return Files.readAllBytes(p);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Writes each file as kmod does: to a temporary name in the directory, then renamed over the old one. */
    public static void write(Path versionDir, Map<String, byte[]> files) throws IOException {
        long pid = ProcessHandle.current().pid();
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            Path tmp = versionDir.resolve(f.getKey() + "." + pid + ".tmp");
            try {
                Files.write(tmp, f.getValue());
                Files.move(tmp, versionDir.resolve(f.getKey()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }
}

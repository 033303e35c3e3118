package kmodpack.loader;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** A module directory on disk, e.g. an unpacked {@code lib/modules/VER}. */
public final class DirectoryModuleTree implements ModuleTree {
    private final Path dir;

    public DirectoryModuleTree(Path dir) {
        this.dir = dir;
    }

    private Path resolve(String relPath) {
        return dir.resolve(relPath);
    }

    @Override
    public byte[] read(String relPath) throws IOException {
        try {
            return Files.readAllBytes(resolve(relPath));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    @Override
    public boolean isFile(String relPath) {
        return Files.isRegularFile(resolve(relPath));
    }

    @Override
    public String describe() {
        return dir.toString();
    }
}

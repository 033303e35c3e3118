package kmodpack.cli;

import java.io.IOException;
import java.nio.file.Path;

import kmodpack.image.ImageEntry;
import kmodpack.image.ImageException;
import kmodpack.image.ModuleImage;

/** Shared by the commands that read an image. */
final class ImageOptions {
    private ImageOptions() {
    }

    static ModuleImage open(Path image) throws IOException {
        return ModuleImage.open(image);
    }

    /** The entry at a path, links followed as {@link ModuleImage#resolve} follows them. */
    static ImageEntry lookup(ModuleImage img, String path, boolean followLast) throws ImageException {
        ImageEntry e = img.resolve(path, followLast);
        if (e == null) {
            throw new ImageException(path + ": not in " + img.file());
        }
        return e;
    }
}

package kmodpack.cli;

import java.io.BufferedOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "cat", mixinStandardHelpOptions = true, description = "Write files of an image to standard output.")
final class CatCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "PATH", description = "Paths inside the image, e.g. kernel/fs/ext4/ext4.ko.")
    List<String> paths;

    @Override
    public Integer call() throws Exception {
        try (ModuleImage img = ImageOptions.open(image)) {
            // Look every path up first: a wrong name fails before anything is written.
            ImageEntry[] entries = new ImageEntry[paths.size()];
            for (int i = 0; i < entries.length; i++) {
                entries[i] = ImageOptions.lookup(img, paths.get(i), true);
                if (!entries[i].isRegularFile()) {
                    throw new kmodpack.image.ImageException(paths.get(i) + (entries[i].isDirectory() ? ": is a directory" : ": not a regular file"));
                }
            }
            OutputStream out = new BufferedOutputStream(System.out, 1 << 16);
            for (ImageEntry e : entries) {
                try (InputStream in = img.newInputStream(e)) {
                    in.transferTo(out);
                }
            }
            out.flush();
        }
        return 0;
    }
}

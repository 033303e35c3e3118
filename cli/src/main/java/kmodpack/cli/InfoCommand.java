package kmodpack.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;
import kmodpack.image.StreamInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Describe an image: kernel version, format, codec, counts and sizes.")
final class InfoCommand implements Callable<Integer> {
    private static final Pattern MODULE = Pattern.compile(".*\\.ko(\\.(xz|zst|gz))?");

    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Override
    public Integer call() throws Exception {
        try (ModuleImage img = ImageOptions.open(image)) {
            int dirs = 0;
            int files = 0;
            int links = 0;
            int modules = 0;
            for (ImageEntry e : img.entries()) {
                if (e.isDirectory()) {
                    dirs++;
                } else if (e.isSymlink()) {
                    links++;
                } else {
                    files++;
                    if (MODULE.matcher(e.name()).matches()) {
                        modules++;
                    }
                }
            }
            long size = Files.size(image);
            System.out.println("image:          " + image);
            System.out.println("kernel version: " + img.kernelVersion());
            System.out.println("format:         " + img.formatMajor() + "." + img.formatMinor());
            System.out.println("codec:          " + img.codec().displayName());
            System.out.println("block size:     " + Units.binary(img.blockSize()) + " (" + img.blockCount() + " blocks)");
            for (StreamInfo s : img.streams()) {
                System.out.println("stream " + String.format(Locale.ROOT, "%-9s", s.name() + ":") + s.codec().displayName() + ", "
                        + Units.binary(s.blockSize()) + " blocks (" + s.blockCount() + "), " + Units.mb(s.rawLength()));
            }
            System.out.println("entries:        " + img.entryCount() + " (" + dirs + " directories, " + files + " files, "
                    + links + " symbolic links)");
            System.out.println("modules:        " + modules);
            System.out.println("content:        " + Units.mb(img.dataLength()));
            System.out.printf(Locale.ROOT, "image size:     %s (%.1f%% of the content)%n", Units.mb(size),
                    img.dataLength() == 0 ? 100.0 : 100.0 * size / img.dataLength());
        }
        return 0;
    }
}

package kmodpack.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;
import kmodpack.image.StreamInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "info", mixinStandardHelpOptions = true, description = "Describe an image: kernel version, format, codec, counts and sizes.")
final class InfoCommand implements Callable<Integer> {
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
                    if (isModule(e.name())) {
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
                System.out.println("stream " + padded(s.name() + ":", 9) + s.codec().displayName() + ", "
                        + Units.binary(s.blockSize()) + " blocks (" + s.blockCount() + "), " + Units.mb(s.rawLength()));
            }
            System.out.println("entries:        " + img.entryCount() + " (" + dirs + " directories, " + files + " files, "
                    + links + " symbolic links)");
            System.out.println("modules:        " + modules);
            System.out.println("content:        " + Units.mb(img.dataLength()));
            System.out.println("image size:     " + Units.mb(size) + " ("
                    + Units.tenths(img.dataLength() == 0 ? 1000.0 : 1000.0 * size / img.dataLength()) + "% of the content)");
        }
        return 0;
    }

    /** A kernel module's file name: NAME.ko, or compressed as kmod reads them (.ko.xz, .ko.zst, .ko.gz). */
    static boolean isModule(String name) {
        int ko = name.lastIndexOf(".ko");
        if (ko < 0) {
            return false;
        }
        String rest = name.substring(ko + 3);
        return rest.isEmpty() || rest.equals(".xz") || rest.equals(".zst") || rest.equals(".gz");
    }

    private static String padded(String s, int width) {
        return s.length() >= width ? s : s + " ".repeat(width - s.length());
    }
}

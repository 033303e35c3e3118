package kmodpack.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import kmodpack.image.Codec;
import kmodpack.image.ImageWriter;
import kmodpack.packer.ImageBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "build", mixinStandardHelpOptions = true,
        description = {"Pack BASEDIR/lib/modules/VERSION into one image, by default BASEDIR/boot/modules-VERSION.",
            "The version is never guessed from the running kernel: packing another machine's tree is normal."})
final class BuildCommand implements Callable<Integer> {
    @Parameters(paramLabel = "VERSION", description = "Kernel version: the directory name under lib/modules.")
    String version;

    @Option(names = {"-b", "--basedir"}, paramLabel = "BASEDIR", description = "Root the tree lives under (default: /), as depmod -b.")
    Path basedir = Path.of("/");

    @Option(names = {"-o", "--output"}, paramLabel = "IMAGE", description = "Image to write (default: BASEDIR/boot/modules-VERSION).")
    Path output;

    @Option(names = "--codec", paramLabel = "CODEC", description = "xz (small, default), lz4 (fast to read) or none.")
    String codec = ImageBuilder.DEFAULT_CODEC.displayName();

    @Option(names = "--level", paramLabel = "N", description = "Compression level: xz 0-9 (default 6), lz4 0-17 (default 12).")
    Integer level;

    @Option(names = "--block-size", paramLabel = "SIZE", description = "Uncompressed bytes per block, a power of two from 4K to 64M (default: 1M).")
    String blockSize = "1M";

    @Option(names = {"-j", "--threads"}, paramLabel = "N", description = "Compression threads (default: number of cores). The image is the same whatever N.")
    int threads = Runtime.getRuntime().availableProcessors();

    @Override
    public Integer call() throws Exception {
        Codec c = Codec.byName(codec);
        long bs = Units.parseSize(blockSize);
        if (bs > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("block size " + blockSize + " is too large");
        }
        ImageWriter.Options options = new ImageWriter.Options(c, level == null ? c.defaultLevel : level, (int) bs, threads);
        if (version.isEmpty() || version.contains("/") || version.equals(".") || version.equals("..")) {
            throw new IllegalArgumentException("'" + version + "' is not a kernel version");
        }
        Path tree = basedir.resolve("lib/modules").resolve(version);
        Path out = output != null ? output : basedir.resolve("boot").resolve("modules-" + version);
        ProgressBar bar = new ProgressBar("packing " + version);
        long start = System.nanoTime();
        ImageWriter.Summary s;
        try {
            s = ImageBuilder.build(tree, version, out, options, bar::update);
        } finally {
            bar.finish();
        }
        double secs = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "%s: %d entries, %d files, %s -> %s (%.1f%%, %s, %s blocks) in %.1f s%n",
                out, s.entries(), s.files(), Units.mb(s.dataLength()), Units.mb(s.imageLength()),
                s.dataLength() == 0 ? 100.0 : 100.0 * s.imageLength() / s.dataLength(), c.displayName(),
                Units.binary(bs), secs);
        return 0;
    }
}

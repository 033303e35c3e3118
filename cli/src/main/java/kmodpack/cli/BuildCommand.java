package kmodpack.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import kmodpack.image.Codec;
import kmodpack.image.ImageWriter;
import kmodpack.packer.ImageBuilder;
import picocli.CommandLine;
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

    @Option(names = "--codec", paramLabel = "CODEC", converter = CodecConverter.class, completionCandidates = CodecNames.class,
            description = "One of ${COMPLETION-CANDIDATES}: xz (small, the default), lz4 (fast to read), none.")
    Codec codec = ImageBuilder.DEFAULT_CODEC;

    @Option(names = "--level", paramLabel = "N", description = "Compression level: xz 0-9 (default 6), lz4 0-17 (default 12).")
    Integer level;

    @Option(names = "--block-size", paramLabel = "SIZE", converter = Units.SizeConverter.class,
            description = "Uncompressed bytes per block, a power of two from 4K to 64M (default: 1M).")
    Long blockSize;

    @Option(names = "--best", description = "Smallest image, slower to pack and to read one module: xz level 9 with 4M blocks (unless --level or --block-size say otherwise).")
    boolean best;

    @Option(names = {"-j", "--threads"}, paramLabel = "N", description = "Compression threads (default: number of cores). The image is the same whatever N.")
    int threads = Runtime.getRuntime().availableProcessors();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** xz, lz4 or none, as users write them. */
    static final class CodecConverter implements CommandLine.ITypeConverter<Codec> {
        @Override
        public Codec convert(String value) {
            try {
                return Codec.byName(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** What shell completion offers for --codec. */
    static final class CodecNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return java.util.Arrays.stream(Codec.values()).map(Codec::displayName).iterator();
        }
    }

    @Override
    public Integer call() throws Exception {
        Codec c = codec;
        long bs = blockSize != null ? blockSize : best ? 4L << 20 : ImageBuilder.DEFAULT_BLOCK_SIZE;
        ImageWriter.Options options;
        // Option values that do not go together are usage errors (exit 2), like picocli's own.
        try {
            if (best && c != Codec.XZ) {
                throw new IllegalArgumentException("--best goes with --codec xz");
            }
            if (level == null && best) {
                level = c.maxLevel;
            }
            if (bs > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("block size " + bs + " is too large");
            }
            options = new ImageWriter.Options(c, level == null ? c.defaultLevel : level, (int) bs, threads);
            if (!kmodpack.image.ImageFormat.validKernelVersion(version)) {
                throw new IllegalArgumentException("'" + version + "' is not a kernel version (one directory name under lib/modules)");
            }
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
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
        if (c == Codec.XZ && !kmodpack.image.Codec.nativeXzEncoder()) {
            System.err.println("kmodpack: note: liblzma was not found; the built-in xz encoder is about 1.3 times slower");
        }
        return 0;
    }
}

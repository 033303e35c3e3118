package kmodpack.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

import kmodpack.image.Codec;
import kmodpack.image.ImageWriter;
import kmodpack.packer.DebBuilder;
import kmodpack.packer.ImageBuilder;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "build", mixinStandardHelpOptions = true,
        description = {"Pack BASEDIR/lib/modules/VERSION into one image, by default BASEDIR/boot/modules-VERSION.",
            "The version is never guessed from the running kernel: packing another machine's tree is normal.",
            "With --deb, pack a Debian kernel package instead, read as it is (no unpacking, no dpkg, no root):",
            "OUTROOT/boot/modules-VERSION and the package's vmlinuz-VERSION (and config-, System.map-) beside it."})
final class BuildCommand implements Callable<Integer> {
    @Parameters(paramLabel = "VERSION", arity = "0..1", description = "Kernel version: the directory name under lib/modules (not with --deb).")
    String version;

    @Option(names = "--deb", paramLabel = "PACKAGE", description = "A Debian kernel package (linux-image-*.deb) to pack; its depmod files are computed.")
    Path deb;

    @Option(names = {"-b", "--basedir"}, paramLabel = "BASEDIR", description = "Root the tree lives under (default: /), as depmod -b; with --deb, OUTROOT: where boot/ is written (default: the current directory).")
    Path basedir;

    @Option(names = "--depmod", description = "Compute depmod's files (modules.dep, .alias, .symbols and their indexes...) instead of packing the tree's own.")
    boolean depmod;

    @Option(names = {"-o", "--output"}, paramLabel = "IMAGE", description = "Image to write (default: BASEDIR/boot/modules-VERSION).")
    Path output;

    @Option(names = "--codec", paramLabel = "CODEC", converter = CodecConverter.class, completionCandidates = CodecNames.class,
            description = "One of ${COMPLETION-CANDIDATES}: xz (small, the default), lz4 (fast to read), none.")
    Codec codec = ImageBuilder.DEFAULT_CODEC;

    @Option(names = "--level", paramLabel = "N", description = "Compression level: xz 0-9 (default 6), lz4 0-17 (default 12).")
    Integer level;

    @Option(names = "--block-size", paramLabel = "SIZE", converter = Units.SizeConverter.class,
            description = "Uncompressed bytes per block, a power of two from 4K to 64M (default: 256K; 1M with --layout elf).")
    Long blockSize;

    @Option(names = "--layout", paramLabel = "LAYOUT", converter = LayoutConverter.class, completionCandidates = LayoutNames.class,
            description = "One of ${COMPLETION-CANDIDATES}: plain (each file whole, the default) or elf (each module cut into six streams of like sections: smaller, more blocks to decode per module).")
    ImageWriter.Layout layout = ImageBuilder.DEFAULT_LAYOUT;

    @Option(names = "--best", description = "Smallest image, slower to pack and to read one module: xz level 9 with 4M blocks (unless --level or --block-size say otherwise).")
    boolean best;

    @Option(names = {"-j", "--threads"}, paramLabel = "N", description = "Compression threads (default: number of cores). The image is the same whatever N.")
    int threads = Runtime.getRuntime().availableProcessors();

    @Spec
    CommandSpec spec;

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

    /** plain or elf. */
    static final class LayoutConverter implements CommandLine.ITypeConverter<ImageWriter.Layout> {
        @Override
        public ImageWriter.Layout convert(String value) {
            for (ImageWriter.Layout l : ImageWriter.Layout.values()) {
                if (l.displayName().equals(value)) {
                    return l;
                }
            }
            throw new CommandLine.TypeConversionException("unknown layout '" + value + "' (choose plain or elf)");
        }
    }

    /** What shell completion offers for --layout. */
    static final class LayoutNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return java.util.Arrays.stream(ImageWriter.Layout.values()).map(ImageWriter.Layout::displayName).iterator();
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
        long bs = blockSize != null ? blockSize : best ? 4L << 20
                : layout == ImageWriter.Layout.ELF ? ImageBuilder.ELF_LAYOUT_BLOCK_SIZE : ImageBuilder.DEFAULT_BLOCK_SIZE;
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
            options = new ImageWriter.Options(c, level == null ? c.defaultLevel : level, (int) bs, threads).withLayout(layout);
            if (deb != null && version != null) {
                throw new IllegalArgumentException("--deb takes the version from the package: give no VERSION");
            }
            if (deb == null && version == null) {
                throw new IllegalArgumentException("a VERSION (or --deb PACKAGE) is needed");
            }
            if (version != null && !kmodpack.image.ImageFormat.validKernelVersion(version)) {
                throw new IllegalArgumentException("'" + version + "' is not a kernel version (one directory name under lib/modules)");
            }
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        Consumer<String> warnings = w -> System.err.println("kmodpack: warning: " + w);
        Path out;
        ImageWriter.Summary s;
        long start = System.nanoTime();
        if (deb != null) {
            ProgressBar bar = new ProgressBar("packing " + deb.getFileName());
            DebBuilder.Result r;
            try {
                r = DebBuilder.build(deb, basedir != null ? basedir : Path.of(""), output, options, bar::update, warnings);
            } finally {
                bar.finish();
            }
            out = r.image();
            s = r.summary();
            for (Path p : r.bootFiles()) {
                System.out.println(p);
            }
        } else {
            Path base = basedir != null ? basedir : Path.of("/");
            Path tree = base.resolve("lib/modules").resolve(version);
            out = output != null ? output : base.resolve("boot").resolve("modules-" + version);
            ProgressBar bar = new ProgressBar("packing " + version);
            try {
                s = depmod ? ImageBuilder.buildWithDepmod(tree, version, out, options, bar::update, warnings)
                        : ImageBuilder.build(tree, version, out, options, bar::update);
            } finally {
                bar.finish();
            }
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

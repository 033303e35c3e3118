package kmodpack.loader;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * In-process timing of {@code modprobe -a -D} over every module of an image: the first pass
 * (reading indexes, cold code) and the best of the following passes. Used by
 * scripts/bench-modprobe.
 *
 * Test code, compiled by the script against the jar:
 * <pre>java -cp kmodpack.jar:CLASSES kmodpack.loader.ResolveBench IMAGE ROOT VERSION CONFIG_DIR [PASSES]</pre>
 */
public final class ResolveBench {
    private ResolveBench() {}

    public static void main(String[] a) throws Exception {
        Path imageFile = Path.of(a[0]);
        String dirname = a[1] + "/lib/modules/" + a[2];
        List<String> config = List.of(a[3]);
        int passes = a.length > 4 ? Integer.parseInt(a[4]) : 30;
        Log log = new Log((prio, text) -> System.err.println("modprobe: " + Log.levelName(prio) + ": " + text));
        long[] full = new long[passes];
        long[] resolveOnly = new long[passes];
        int names = 0;
        long bytes = 0;
        for (int pass = 0; pass < passes; pass++) {
            long t0 = System.nanoTime();
            try (ModuleTree tree = Files.isDirectory(imageFile) ? new DirectoryModuleTree(imageFile)
                    : ImageModuleTree.open(imageFile)) {
                List<String> all = moduleNames(tree.read("modules.dep"));
                names = all.size();
                ModprobeConfig cfg = ModprobeConfig.load(Host.real(), config, tree, dirname, log);
                Kmod kmod = new Kmod(tree, dirname, cfg, log);
                bytes = dashD(kmod, all, log, imageFile);
                full[pass] = System.nanoTime() - t0;
                // Again on the same open image: resolution alone, indexes already read.
                long t1 = System.nanoTime();
                dashD(kmod, all, log, imageFile);
                resolveOnly[pass] = System.nanoTime() - t1;
            }
        }
        System.out.printf("%d closures, %d bytes of -D output%n", names, bytes);
        System.out.printf("  first pass (cold JVM, image opened, indexes read): %.1f ms%n", full[0] / 1e6);
        System.out.printf("  best full pass of %d (image opened, indexes read):  %.1f ms%n", passes - 1, min(full) / 1e6);
        System.out.printf("  best resolution-only pass (indexes in memory):      %.1f ms%n", min(resolveOnly) / 1e6);
    }

    private static long min(long[] a) {
        long m = Long.MAX_VALUE;
        for (int i = 1; i < a.length; i++) m = Math.min(m, a[i]);
        return a.length == 1 ? a[0] : m;
    }

    private static long dashD(Kmod kmod, List<String> all, Log log, Path imageFile) {
        Modprobe.Options o = new Modprobe.Options();
        o.all = true;
        o.showDepends = true;
        CountingStream count = new CountingStream();
        int rc = new Modprobe(kmod, new Kernel(Host.real(), null), log, count, o, "image " + imageFile).run(all);
        if (rc != 0) throw new IllegalStateException("modprobe -a -D failed");
        return count.n;
    }

    private static List<String> moduleNames(byte[] dep) {
        List<String> names = new ArrayList<>();
        for (String line : new String(dep, StandardCharsets.ISO_8859_1).split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String path = line.substring(0, colon);
            names.add(Kmod.modnameNormalize(path.substring(path.lastIndexOf('/') + 1)));
        }
        return names;
    }

    private static final class CountingStream extends java.io.BufferedOutputStream {
        CountingStream() {
            super(OutputStream.nullOutputStream(), 1);
        }

        long n;

        @Override
        public void write(int b) {
            n++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            n += len;
        }
    }
}

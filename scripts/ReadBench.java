import java.nio.file.Path;

import kmodpack.image.ImageEntry;
import kmodpack.image.ModuleImage;

/**
 * In-process read time of one file from a freshly opened image: open, look up, read all bytes,
 * close. The first rounds warm the JIT; the figure is the median of the rest.
 *
 *   java -cp cli/target/kmodpack.jar scripts/ReadBench.java IMAGE PATH [ROUNDS]
 */
public class ReadBench {
    public static void main(String[] args) throws Exception {
        Path image = Path.of(args[0]);
        String path = args[1];
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 30;
        long[] t = new long[rounds];
        long firstOpen = 0;
        for (int i = 0; i < rounds; i++) {
            long t0 = System.nanoTime();
            try (ModuleImage img = ModuleImage.open(image)) {
                ImageEntry e = img.lookup(path);
                if (e == null) {
                    throw new IllegalArgumentException(path + " not in " + image);
                }
                img.readAllBytes(e);
            }
            t[i] = System.nanoTime() - t0;
            if (i == 0) {
                firstOpen = t[0];
            }
        }
        long[] warm = java.util.Arrays.copyOfRange(t, rounds / 3, rounds);
        java.util.Arrays.sort(warm);
        System.out.printf(java.util.Locale.ROOT, "%.1f %.1f%n", warm[warm.length / 2] / 1e6, firstOpen / 1e6);
    }
}

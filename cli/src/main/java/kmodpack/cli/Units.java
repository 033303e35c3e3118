package kmodpack.cli;

import java.util.Locale;

/** Sizes as people write and read them. */
final class Units {
    private Units() {
    }

    /** "1M", "256K", "1MiB", "4096" → bytes. */
    static long parseSize(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT).replace("IB", "").replace("B", "");
        long mult = 1;
        if (t.endsWith("K")) {
            mult = 1L << 10;
        } else if (t.endsWith("M")) {
            mult = 1L << 20;
        } else if (t.endsWith("G")) {
            mult = 1L << 30;
        }
        if (mult != 1) {
            t = t.substring(0, t.length() - 1);
        }
        try {
            long n = Long.parseLong(t);
            if (n < 0) {
                throw new NumberFormatException();
            }
            return Math.multiplyExact(n, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("'" + s + "' is not a size (try 1M, 256K or 4096)");
        }
    }

    /** Sizes on the command line: a malformed one is a usage error, as picocli's own are. */
    static final class SizeConverter implements picocli.CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return parseSize(value);
            } catch (IllegalArgumentException e) {
                throw new picocli.CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    /** Decimal megabytes, as du -h --si and the benchmarks print them. */
    static String mb(long bytes) {
        return tenths(bytes / 1e5) + " MB";
    }

    /**
     * {@code x / 10} with one decimal, rounded half up ("%.1f" of a non-negative x / 10). Written
     * out because java.util.Formatter loads locale data that costs a short command (info) about
     * 20 ms of its start.
     */
    static String tenths(double x) {
        long t = Math.round(x);
        return (t / 10) + "." + (t % 10);
    }

    static String binary(long bytes) {
        if (bytes >= 1 << 20 && bytes % (1 << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        if (bytes >= 1 << 10 && bytes % (1 << 10) == 0) {
            return (bytes >> 10) + " KiB";
        }
        return bytes + " bytes";
    }
}

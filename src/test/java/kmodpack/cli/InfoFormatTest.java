package kmodpack.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Locale;

import org.junit.jupiter.api.Test;

/** info's figures, formatted without java.util.Formatter: the same text as "%.1f" gave. */
class InfoFormatTest {
    @Test
    void tenthsAreWhatPercentOneFGives() {
        for (long bytes : new long[] {0, 1, 49_999, 50_000, 74_292_366, 402_812_345, 999_950_000, 123_456_789_012L}) {
            assertEquals(String.format(Locale.ROOT, "%.1f MB", bytes / 1e6), Units.mb(bytes), "bytes " + bytes);
        }
        for (double percent : new double[] {0, 18.44, 18.45001, 99.96, 100, 251.3}) {
            assertEquals(String.format(Locale.ROOT, "%.1f", percent), Units.tenths(percent * 10), "percent " + percent);
        }
    }

    @Test
    void modulesAreNamedAsKmodNamesThem() {
        for (String name : new String[] {"ext4.ko", "ext4.ko.xz", "ext4.ko.zst", "ext4.ko.gz", "a.ko.ko", ".ko"}) {
            assertTrue(InfoCommand.isModule(name), name);
        }
        for (String name : new String[] {"ext4", "ext4.ko.bz2", "ext4.kox", "ko", "modules.dep", "ext4.ko.xz.sig"}) {
            assertFalse(InfoCommand.isModule(name), name);
        }
    }
}

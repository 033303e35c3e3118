package kmodpack.loader;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Coverage-guided fuzzing of the .bin index reader (a damaged or crafted modules.*.bin inside an
 * image). The invariant: opening throws only IOException and a lookup only
 * {@link IndexFile.IndexCorrupt}; anything else (an index out of bounds, a stack overflow, an
 * allocation failure) is a crash. In a normal build the seeds under
 * {@code IndexFileFuzzTestInputs} run as regression tests; {@code scripts/fuzz} fuzzes.
 */
class IndexFileFuzzTest {
    /**
     * Input: one byte k, then a k-byte key, then the index file. The key goes through both an
     * exact and a wildcard lookup, as modules.dep.bin and modules.alias.bin are searched.
     */
    @FuzzTest(maxDuration = "10s")
    void lookups(byte[] input) {
        if (input.length == 0) return;
        int k = Math.min(input[0] & 0xff, input.length - 1);
        String key = new String(input, 1, k, StandardCharsets.ISO_8859_1);
        byte[] data = Arrays.copyOfRange(input, 1 + k, input.length);
        IndexFile idx;
        try {
            idx = new IndexFile(data, "fuzz.bin");
        } catch (IOException e) {
            return;
        }
        try {
            idx.search(key);
        } catch (IndexFile.IndexCorrupt e) {
            // the documented answer to damage
        }
        try {
            idx.searchWild(key);
        } catch (IndexFile.IndexCorrupt e) {
            // the documented answer to damage
        }
    }
}

package kmodpack.image.elf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import kmodpack.testkit.KernelTrees;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Every .ko of Debian's amd64 and arm64 trees splits into streams and joins back byte for byte. */
class ElfStreamsRealTreeTest {
    static List<Path> modules(String arch) throws IOException {
        Path dir = KernelTrees.get(arch).modulesDir();
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".ko")).sorted().collect(Collectors.toList());
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"amd64", "arm64"})
    void everyModuleRoundTrips(String arch) throws IOException {
        List<Path> modules = modules(arch);
        assertTrue(modules.size() > 3000, "a real tree has thousands of modules");
        long[] totals = new long[ElfStreams.STREAMS];
        modules.parallelStream().forEach(p -> {
            try {
                byte[] file = Files.readAllBytes(p);
                byte[][] parts = ElfStreams.split(file);
                assertNotNull(parts, () -> p + " is a module the transform must handle");
                assertEquals(ElfStreams.STREAM_NAMES.size(), parts.length);
                assertEquals(parts[0].length, ElfStreams.headerLength(
                        java.util.Arrays.copyOf(parts[0], ElfStreams.HEADER_LENGTH_BYTES)));
                long[] lengths = ElfStreams.partLengths(parts[0]);
                long sum = 0;
                for (int i = 0; i < parts.length; i++) {
                    assertEquals(lengths[i], parts[i].length, () -> p + ": part length");
                    sum += parts[i].length;
                    synchronized (totals) {
                        totals[i] += parts[i].length;
                    }
                }
                assertTrue(parts[ElfStreams.SYMTAB].length > 0, () -> p + ": symbols are split off");
                // part 0 carries 16 bytes of its own on top of the file's bytes
                assertEquals(file.length + ElfLayout.PREFIX, sum);
                assertArrayEquals(file, ElfStreams.join(parts), () -> p + " rebuilt");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        // the bulk of the tree leaves "other": code, relocations, BTF and symbols are most of it
        long all = java.util.Arrays.stream(totals).sum();
        assertTrue(totals[ElfStreams.OTHER] < all / 2, () -> "other holds " + totals[ElfStreams.OTHER] + " of " + all);
    }
}

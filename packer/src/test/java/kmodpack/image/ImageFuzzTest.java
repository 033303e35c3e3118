package kmodpack.image;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import kmodpack.packer.Extractor;

import kmodpack.image.ImageLayout.Header;

/**
 * Coverage-guided fuzzing of the image reader, an image being untrusted input that root mounts
 * and extracts: open, lookup of every entry's path, listing, readlink, reads at several offsets,
 * verify, and extraction into a sandbox. The invariants: the reader throws only
 * {@link ImageException}; every entry is found again by its own path; extraction writes
 * nothing outside its target directory. In a normal build the seeds under
 * {@code ImageFuzzTestInputs} run as regression tests; {@code scripts/fuzz} fuzzes.
 */
class ImageFuzzTest {
    private static Path sandbox;

    /** One directory for the whole run (fuzzing runs millions of inputs in one JVM). */
    private static synchronized Path sandbox() throws IOException {
        if (sandbox == null) {
            Path d = Files.createTempDirectory("kmodpack-image-fuzz");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteQuietly(d)));
            sandbox = d;
        }
        return sandbox;
    }

    @FuzzTest(maxDuration = "10s")
    void openReadVerifyExtract(byte[] input) throws IOException {
        Path run = Files.createDirectory(sandbox().resolve("run"));
        try {
            Path file = run.resolve("image");
            Files.write(file, withChecksums(input));
            exercise(file, run.resolve("out"));
            assertOnly(run, Set.of("image", "out"));
            assertOnly(sandbox, Set.of("run"));
        } finally {
            deleteQuietly(run);
        }
    }

    /**
     * An attacker computes checksums; a fuzzer cannot. The header's CRC is set, and the index's
     * when it is stored raw, so mutations reach the structural checks behind them.
     */
    static byte[] withChecksums(byte[] input) {
        byte[] b = input.clone();
        if (b.length < Header.SIZE) return b;
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        long indexOffset = h.getLong(Header.INDEX_OFFSET_AT);
        if (b[Header.INDEX_CODEC_AT] == Codec.NONE.id && indexOffset >= Header.SIZE && indexOffset <= b.length) {
            int crc = ImageLayout.crc(b, (int) indexOffset, b.length - (int) indexOffset);
            h.putInt(Header.INDEX_STORED_CRC_AT, crc).putInt(Header.INDEX_RAW_CRC_AT, crc);
        }
        Header.seal(b);
        return b;
    }

    static void exercise(Path file, Path out) throws IOException {
        ModuleImage img;
        try {
            img = ModuleImage.open(file);
        } catch (ImageException e) {
            return;
        }
        try (img) {
            img.kernelVersion();
            byte[] buf = new byte[4096];
            for (ImageEntry e : img.entries()) {
                String path = img.path(e);
                // Names are bytes; one that is not UTF-8 has no String path that finds it.
                if (path.indexOf('\uFFFD') < 0 && img.lookup(path) != e) {
                    throw new AssertionError("entry " + e.inode() + " is not found by its path " + path);
                }
                if (e.isDirectory()) {
                    img.list(e);
                } else if (e.isSymlink()) {
                    try {
                        img.readlink(e);
                    } catch (ImageException ex) {
                        // damaged
                    }
                } else if (e.isRegularFile()) {
                    for (long at : new long[] {0, e.size() / 2, Math.max(0, e.size() - 1), e.size(), e.size() + 1}) {
                        try {
                            img.read(e, at, buf, 0, buf.length);
                        } catch (ImageException ex) {
                            // damaged
                        }
                    }
                }
            }
            img.verify(null);
            try {
                Extractor.extract(img, out, List.of(), null);
            } catch (ImageException e) {
                // refused or damaged: still nothing may be written outside
            }
        }
    }

    private static void assertOnly(Path dir, Set<String> allowed) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            Set<String> names = s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
            if (!allowed.containsAll(names)) throw new AssertionError("written outside the target: " + names);
        }
    }

    static void deleteQuietly(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            // a temporary directory
        }
    }
}

package kmodpack.packer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.Random;

import kmodpack.image.Codec;
import kmodpack.image.ImageEntry;
import kmodpack.image.ImageException;
import kmodpack.image.ImageFormat;
import kmodpack.image.ImageWriter;
import kmodpack.image.ModuleImage;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Edge cases on a small synthetic tree, through every codec, with blocks small enough to split files. */
class RoundTripTest {
    @TempDir
    Path tmp;

    static Path makeEdgeTree(Path dir) throws IOException {
        Files.createDirectories(dir);
        Random r = new Random(42);
        byte[] random = new byte[50_000];
        r.nextBytes(random);
        byte[] text = "alias pci:v00008086d* e1000e\n".repeat(4000).getBytes();
        Files.write(dir.resolve("empty"), new byte[0]);
        Files.write(dir.resolve("random.bin"), random);
        Files.write(dir.resolve("modules.alias"), text);
        // a hot file (FORMAT.md, Streams) that spans several hot blocks
        Files.write(dir.resolve("modules.dep.bin"), "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko\n".repeat(1000).getBytes());
        Files.createDirectories(dir.resolve("empty-dir"));
        Path deep = dir.resolve("kernel/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p");
        Files.createDirectories(deep);
        Files.write(deep.resolve("deep.ko"), random);
        Files.write(dir.resolve("kernel/ünïcödé-名前.ko"), "non-ascii name".getBytes());
        Files.write(dir.resolve("kernel/" + "x".repeat(255)), "longest name".getBytes());
        Files.createSymbolicLink(dir.resolve("build"), Path.of("/usr/src/linux-headers-6.1.0"));
        Files.createSymbolicLink(dir.resolve("kernel/relative-link"), Path.of("a/b/c"));
        Files.createSymbolicLink(dir.resolve("dangling"), Path.of("../nowhere"));
        Path ro = dir.resolve("kernel/read-only.ko");
        Files.write(ro, "r".getBytes());
        Files.setPosixFilePermissions(ro, PosixFilePermissions.fromString("r--r-----"));
        Path exec = dir.resolve("kernel/setgid-dir");
        Files.createDirectories(exec);
        Files.setAttribute(exec, "unix:mode", 02750);
        Files.setLastModifiedTime(dir.resolve("random.bin"), FileTime.from(Instant.ofEpochSecond(1_700_000_000L, 123_456_789)));
        Files.setLastModifiedTime(dir.resolve("empty"), FileTime.from(Instant.ofEpochSecond(-86400L * 365, 5)));
        return dir;
    }

    @ParameterizedTest
    @EnumSource(Codec.class)
    void edgeTreeRoundTrips(Codec codec) throws IOException {
        edgeTreeRoundTrips(codec, ImageFormat.MAJOR);
    }

    /** Version 2 readers read version 1 images: the writer still writes them on request. */
    @ParameterizedTest
    @EnumSource(Codec.class)
    void edgeTreeRoundTripsInFormat1(Codec codec) throws IOException {
        edgeTreeRoundTrips(codec, ImageFormat.MAJOR_V1);
    }

    private void edgeTreeRoundTrips(Codec codec, int major) throws IOException {
        Path src = makeEdgeTree(tmp.resolve("src"));
        Path image = tmp.resolve("image");
        ImageBuilder.build(src, "6.1.0-test", image, new ImageWriter.Options(codec, codec.defaultLevel, 4096, 2, major), null);

        try (ModuleImage img = ModuleImage.open(image)) {
            assertEquals("6.1.0-test", img.kernelVersion());
            assertEquals(major, img.formatMajor());
            assertEquals(codec, img.codec());
            ImageEntry hot = img.lookup("modules.dep.bin");
            byte[] hotBytes = Files.readAllBytes(src.resolve("modules.dep.bin"));
            assertArrayEquals(hotBytes, img.readAllBytes(hot));
            byte[] piece = new byte[100];
            assertEquals(100, img.read(hot, ImageFormat.HOT_BLOCK_SIZE - 50, piece, 0, 100));
            assertArrayEquals(java.util.Arrays.copyOfRange(hotBytes, ImageFormat.HOT_BLOCK_SIZE - 50, ImageFormat.HOT_BLOCK_SIZE + 50), piece);
            if (major == ImageFormat.MAJOR) {
                // The hot file lies in the hot stream's small blocks, the modules in the data stream.
                kmodpack.image.StreamInfo hotStream = img.streams().get(1);
                assertEquals("hot", hotStream.name());
                assertEquals("data", img.streams().get(0).name());
                assertEquals(codec == Codec.NONE ? Codec.NONE : Codec.LZ4, hotStream.codec());
                int[] blocks = img.blocksOf(hot);
                assertEquals(hotStream.firstBlock(), blocks[0]);
                assertTrue(blocks[blocks.length - 1] < hotStream.firstBlock() + hotStream.blockCount());
                int[] dataBlocks = img.blocksOf(img.lookup("random.bin"));
                assertTrue(dataBlocks[dataBlocks.length - 1] < hotStream.firstBlock());
            } else {
                assertEquals(1, img.streams().size());
            }
            ImageEntry deep = img.lookup("kernel/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep.ko");
            assertNotNull(deep);
            assertArrayEquals(Files.readAllBytes(src.resolve("random.bin")), img.readAllBytes(deep));
            assertEquals(deep, img.lookup("/kernel//a/./b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep.ko"));
            assertNull(img.lookup("kernel/a/../a"));
            assertNull(img.lookup("random.bin/x"));
            assertNull(img.lookup("kernel/missing"));
            assertNotNull(img.lookup("kernel/ünïcödé-名前.ko"));
            assertEquals("/usr/src/linux-headers-6.1.0", img.readlink(img.lookup("build")));
            assertEquals(List.of(), img.list(img.lookup("empty-dir")));
            assertEquals("kernel/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep.ko", img.path(deep));
            assertThrows(ImageException.class, () -> img.readAllBytes(img.lookup("kernel")));

            // Reads at every kind of offset, across block boundaries, past the end.
            ImageEntry alias = img.lookup("modules.alias");
            byte[] expected = Files.readAllBytes(src.resolve("modules.alias"));
            for (long off : new long[] {0, 1, 4095, 4096, 4097, 50_000, expected.length - 1, expected.length, expected.length + 10}) {
                byte[] buf = new byte[10_000];
                int n = img.read(alias, off, buf, 0, buf.length);
                int want = (int) Math.max(0, Math.min(buf.length, expected.length - off));
                assertEquals(want, n, "read at " + off);
                for (int i = 0; i < n; i++) {
                    assertEquals(expected[(int) off + i], buf[i], "byte " + (off + i));
                }
            }
            assertArrayEquals(expected, img.newInputStream(alias).readAllBytes());
            assertTrue(img.verify(null).ok());
        }

        Path out = tmp.resolve("out");
        try (ModuleImage img = ModuleImage.open(image)) {
            Extractor.extract(img, out, List.of(), null);
        }
        TreeAssert.assertSameTree(src, out);
    }

    @ParameterizedTest
    @EnumSource(value = Codec.class, names = {"XZ"})
    void extractsSelectedPathsWithTheirParents(Codec codec) throws IOException {
        Path src = makeEdgeTree(tmp.resolve("src"));
        Path image = tmp.resolve("image");
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(codec, 1, 1 << 16, 1), null);
        Path out = tmp.resolve("out");
        try (ModuleImage img = ModuleImage.open(image)) {
            Extractor.extract(img, out, List.of("kernel/a/b", "random.bin"), null);
            assertThrows(ImageException.class, () -> Extractor.extract(img, tmp.resolve("o2"), List.of("nope"), null));
        }
        assertEquals(List.of("", "kernel", "kernel/a", "kernel/a/b", "kernel/a/b/c"),
                TreeAssert.relativePaths(out).subList(0, 5));
        assertTrue(Files.exists(out.resolve("kernel/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep.ko")));
        assertTrue(Files.exists(out.resolve("random.bin")));
        assertTrue(Files.notExists(out.resolve("modules.alias")));
    }
}

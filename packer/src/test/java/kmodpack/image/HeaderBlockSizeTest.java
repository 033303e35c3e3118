package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import kmodpack.image.ImageLayout.Header;
import kmodpack.packer.ImageBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The header's block size (FORMAT.md, Header): version 2 writers put the largest stream block
 * size there, readers accept it or 0 (images from the first 2.0 writers) and refuse anything
 * else; version 1 keeps its data block size.
 */
class HeaderBlockSizeTest {
    @TempDir
    Path tmp;

    private Path image(int blockSize, int major) throws IOException {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("modules.dep.bin"), "hot".repeat(9000));
        Files.writeString(src.resolve("a.ko"), "module a".repeat(3000));
        Path image = tmp.resolve("image-" + blockSize + "-" + major);
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.LZ4, 0, blockSize, 1, major), null);
        return image;
    }

    private static int headerBlockSize(Path image) throws IOException {
        return Header.decode(Files.readAllBytes(image)).blockSize();
    }

    /** The image with another value in the header's block size field, its checksum refreshed. */
    private Path withHeaderBlockSize(Path image, int value) throws IOException {
        byte[] b = Files.readAllBytes(image);
        ImageLayout.littleEndian(b).putInt(Header.BLOCK_SIZE_AT, value);
        Header.seal(b);
        return Files.write(tmp.resolve("changed"), b);
    }

    @Test
    void versionTwoWritesTheLargestStreamBlockSize() throws IOException {
        // The data stream's 1 MiB, then a data stream smaller than the hot stream's 16 KiB blocks.
        for (int dataBlocks : new int[] {1 << 20, 4096}) {
            Path image = image(dataBlocks, ImageFormat.MAJOR);
            int largest = Math.max(dataBlocks, ImageFormat.HOT_BLOCK_SIZE);
            assertEquals(largest, headerBlockSize(image));
            try (ModuleImage img = ModuleImage.open(image)) {
                assertEquals(largest, img.largestBlockSize());
            }
        }
        assertEquals(8192, headerBlockSize(image(8192, ImageFormat.MAJOR_V1)));
    }

    @Test
    void zeroFromEarlierWritersStillReads() throws IOException {
        Path image = image(1 << 20, ImageFormat.MAJOR);
        Path old = withHeaderBlockSize(image, 0);
        try (ModuleImage img = ModuleImage.open(old)) {
            assertArrayEquals("module a".repeat(3000).getBytes(), img.readAllBytes(img.lookup("a.ko")));
            assertEquals(1 << 20, img.largestBlockSize());
        }
    }

    @Test
    void anyOtherValueIsRefused() throws IOException {
        Path image = image(1 << 20, ImageFormat.MAJOR);
        for (int bad : new int[] {ImageFormat.HOT_BLOCK_SIZE, 2 << 20, 4096, 12345, -1}) {
            Path p = withHeaderBlockSize(image, bad);
            ImageException e = assertThrows(ImageException.class, () -> ModuleImage.open(p).close(), "block size " + bad);
            assertTrue(e.getMessage().contains("damaged image header"), e.getMessage());
        }
        Path v1 = withHeaderBlockSize(image(8192, ImageFormat.MAJOR_V1), 0);
        assertThrows(ImageException.class, () -> ModuleImage.open(v1).close(), "version 1 needs its block size");
    }
}

package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;

import kmodpack.packer.ImageBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A file over 4 GiB (sparse on disk, so the test stays fast): 64-bit sizes and offsets work. */
class LargeFileTest {
    @TempDir
    Path tmp;

    @Test
    void fileOverFourGiBRoundTrips() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("before"), "before");
        long size = (4L << 30) + 12345;
        byte[] tail = "the end of a very large file".getBytes();
        byte[] middle = "past four gigabytes".getBytes();
        try (RandomAccessFile f = new RandomAccessFile(src.resolve("huge").toFile(), "rw")) {
            f.setLength(size);
            f.seek((4L << 30) + 100);
            f.write(middle);
            f.seek(size - tail.length);
            f.write(tail);
        }
        Files.writeString(src.resolve("zafter"), "after");
        Path image = tmp.resolve("image");
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.LZ4, 0, 4 << 20, 2), null);
        assertTrue(Files.size(image) < 100 << 20, "zeros compress");
        try (ModuleImage img = ModuleImage.open(image)) {
            ImageEntry huge = img.lookup("huge");
            assertEquals(size, huge.size());
            byte[] buf = new byte[middle.length];
            assertEquals(middle.length, img.read(huge, (4L << 30) + 100, buf, 0, buf.length));
            assertArrayEquals(middle, buf);
            buf = new byte[tail.length + 10];
            assertEquals(tail.length, img.read(huge, size - tail.length, buf, 0, buf.length));
            assertArrayEquals(tail, java.util.Arrays.copyOf(buf, tail.length));
            assertArrayEquals("after".getBytes(), img.readAllBytes(img.lookup("zafter")));
            assertTrue(img.dataLength() > 4L << 30);
        }
    }
}

package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import kmodpack.packer.ImageBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads that decode an LZMA2 block only as far as their file goes, keep that prefix, and
 * decode further (or whole) when a later read needs more: the bytes are right either way.
 */
class PrefixDecodeTest {
    @TempDir
    Path tmp;

    @Test
    void piecesOfFilesInOneBlockReadInAnyOrderAreTheFilesBytes() throws Exception {
        Path tree = tmp.resolve("6.1.0");
        Files.createDirectories(tree);
        // Eight 24 KiB files, compressible but each its own, all in one 256 KiB block.
        byte[][] content = new byte[8][];
        Random r = new Random(8);
        for (int i = 0; i < content.length; i++) {
            content[i] = new byte[24 << 10];
            for (int k = 0; k < content[i].length; k++) {
                content[i][k] = (byte) ("kmodpack".charAt(k % 8) + r.nextInt(3) + i);
            }
            Files.write(tree.resolve("m" + i + ".ko"), content[i]);
        }
        Path image = tmp.resolve("modules-6.1.0");
        ImageBuilder.build(tree, "6.1.0", image, new ImageWriter.Options(Codec.XZ, 6, 256 << 10, 1), null);
        try (ModuleImage img = ModuleImage.open(image)) {
            ImageEntry m1 = img.lookup("m1.ko");
            int block = img.blockOf(m1, 0);
            // The second file's head: only a prefix of the block is decoded, not the block.
            byte[] head = new byte[4096];
            img.read(m1, 0, head, 0, head.length);
            assertArrayEquals(Arrays.copyOf(content[1], 4096), head);
            assertFalse(img.isCached(block), "a prefix is not the whole block");
            // Its tail comes from the prefix kept; a later file needs a longer one.
            byte[] tail = new byte[1000];
            img.read(m1, content[1].length - 1000, tail, 0, tail.length);
            assertArrayEquals(Arrays.copyOfRange(content[1], content[1].length - 1000, content[1].length), tail);
            for (int i : new int[] {5, 0, 3, 7}) {
                ImageEntry e = img.lookup("m" + i + ".ko");
                byte[] got = new byte[content[i].length];
                for (int at = 0; at < got.length; at += 5000) {
                    img.read(e, at, got, at, Math.min(5000, got.length - at));
                }
                assertArrayEquals(content[i], got, "m" + i);
                assertArrayEquals(content[i], img.readAllBytes(e), "m" + i + " whole");
            }
            // Read-ahead wants the whole block even where a prefix is kept.
            img.preload(block);
            assertTrue(img.isCached(block));
            assertArrayEquals(content[6], img.readAllBytes(img.lookup("m6.ko")));
        }
    }
}

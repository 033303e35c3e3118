package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.util.Random;

import kmodpack.testkit.KernelTrees;
import org.junit.jupiter.api.Test;

/** Every xz level, native and Java, decodes with the reader's decoder; incompressible data is stored raw. */
class CodecTest {
    @Test
    void liblzmaIsUsedWhereTheSystemHasIt() {
        // Debian and Ubuntu always ship liblzma (xz-utils needs it): packing must not silently
        // fall back to the slower encoder there.
        assertTrue(NativeLzma.available(), "liblzma could not be loaded");
    }

    @Test
    void everyXzLevelRoundTrips() throws IOException {
        byte[] module = Files.readAllBytes(KernelTrees.get("amd64").modulesDir().resolve("kernel/fs/jbd2/jbd2.ko"));
        int bs = 1 << 17;
        byte[] block = java.util.Arrays.copyOf(module, bs);
        for (int level = 0; level <= 9; level++) {
            byte[] c = Codec.XZ.compress(block, bs, level, bs);
            assertNotNull(c, "level " + level);
            byte[] back = new byte[bs];
            Codec.XZ.decompress(c, c.length, back, bs, bs);
            assertArrayEquals(block, back, "level " + level);
            byte[] prefix = new byte[1000];
            Codec.XZ.decompressPrefix(c, c.length, prefix, 1000, bs, bs);
            assertArrayEquals(java.util.Arrays.copyOf(block, 1000), prefix);
        }
    }

    @Test
    void liblzmaAndJavaDecodeTheSameBytesWholeAndInPart() throws IOException {
        byte[] module = Files.readAllBytes(KernelTrees.get("amd64").modulesDir().resolve("kernel/fs/jbd2/jbd2.ko"));
        int bs = 1 << 16;
        byte[] block = java.util.Arrays.copyOf(module, bs);
        byte[] c = Codec.XZ.compress(block, bs, 6, bs);
        for (boolean nativeDecoder : new boolean[] {true, false}) {
            for (int need : new int[] {1, 4096, bs - 1, bs}) {
                byte[] out = new byte[need];
                Codec.decodeXz(c, c.length, out, need, bs, bs, nativeDecoder);
                assertArrayEquals(java.util.Arrays.copyOf(block, need), out, "native " + nativeDecoder + ", " + need + " bytes");
            }
        }
    }

    @Test
    void bothXzDecodersRefuseDamagedStreams() throws IOException {
        byte[] module = Files.readAllBytes(KernelTrees.get("amd64").modulesDir().resolve("kernel/fs/jbd2/jbd2.ko"));
        int bs = 1 << 16;
        byte[] block = java.util.Arrays.copyOf(module, bs);
        byte[] c = Codec.XZ.compress(block, bs, 6, bs);
        for (boolean nativeDecoder : new boolean[] {true, false}) {
            String which = nativeDecoder ? "liblzma" : "Java";
            // cut off: neither the whole block nor its last byte can be decoded
            assertThrows(ImageException.class, () -> Codec.decodeXz(c, c.length / 2, new byte[bs], bs, bs, bs, nativeDecoder), which);
            assertThrows(ImageException.class, () -> Codec.decodeXz(c, c.length / 2, new byte[bs - 1], bs - 1, bs, bs, nativeDecoder), which);
            // a stream that holds more or fewer bytes than the index says
            assertThrows(ImageException.class, () -> Codec.decodeXz(c, c.length, new byte[bs - 1], bs - 1, bs - 1, bs, nativeDecoder), which);
            assertThrows(ImageException.class, () -> Codec.decodeXz(c, c.length, new byte[bs + 1], bs + 1, bs + 1, bs, nativeDecoder), which);
            // a bad control byte at the start
            byte[] bad = c.clone();
            bad[0] = (byte) 0x03;
            assertThrows(ImageException.class, () -> Codec.decodeXz(bad, bad.length, new byte[bs], bs, bs, bs, nativeDecoder), which);
        }
    }

    @Test
    void incompressibleBlocksAreLeftToBeStoredRaw() throws IOException {
        byte[] noise = new byte[1 << 16];
        new Random(1).nextBytes(noise);
        for (Codec c : Codec.values()) {
            assertNull(c.compress(noise, noise.length, c.defaultLevel, noise.length), c.name());
        }
    }
}

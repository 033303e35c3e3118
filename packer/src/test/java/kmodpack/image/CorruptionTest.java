package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import kmodpack.packer.ImageBuilder;
import kmodpack.testkit.KernelTrees;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import kmodpack.image.ImageLayout.Header;

/**
 * Damage anywhere in an image is detected: opening fails, or verify names the damage and a read
 * of an affected file fails. No read ever returns bytes that differ from the original.
 */
class CorruptionTest {
    @TempDir
    static Path tmp;
    static byte[] pristine;
    static Map<String, byte[]> originals = new HashMap<>();

    @BeforeAll
    static void buildImage() throws IOException {
        // A real slice of a tree: ext4 and its neighbours, small blocks so there are many.
        KernelTrees.Tree tree = KernelTrees.get("amd64");
        Path src = tree.modulesDir().resolve("kernel/fs/ext4").getParent();
        Path image = tmp.resolve("pristine");
        ImageBuilder.build(src.resolve("ext4"), "v", image, new ImageWriter.Options(Codec.XZ, 1, 1 << 16, 2), null);
        Files.copy(src.resolve("jbd2/jbd2.ko"), tmp.resolve("unused"));
        pristine = Files.readAllBytes(image);
        try (ModuleImage img = ModuleImage.open(image)) {
            for (ImageEntry e : img.entries()) {
                if (e.isRegularFile()) {
                    originals.put(img.path(e), img.readAllBytes(e));
                }
            }
        }
    }

    private Path write(byte[] content) throws IOException {
        Path p = tmp.resolve("damaged");
        Files.write(p, content);
        return p;
    }

    /** Opens the damaged image; if that works, verify must fail and reads must fail or be right. */
    private void assertDetected(byte[] damaged, String what) throws IOException {
        ModuleImage img;
        try {
            img = ModuleImage.open(write(damaged));
        } catch (ImageException expected) {
            return;
        }
        try (img) {
            ModuleImage.VerifyResult r = img.verify(null);
            assertFalse(r.ok(), what + ": verify found nothing");
            assertFalse(r.damagedFiles().isEmpty(), what + ": verify named no file");
            int failed = 0;
            for (ImageEntry e : img.entries()) {
                if (!e.isRegularFile()) {
                    continue;
                }
                try {
                    byte[] got = img.readAllBytes(e);
                    assertArrayEquals(originals.get(img.path(e)), got, what + ": wrong bytes returned for " + img.path(e));
                    assertFalse(r.damagedFiles().contains(img.path(e)), what + ": " + img.path(e) + " read fine but was named damaged");
                } catch (ImageException expected) {
                    failed++;
                }
            }
            assertTrue(failed > 0, what + ": no read failed");
        }
    }

    @Test
    void flippedBytesInBlocksAreDetected() throws IOException {
        ByteOrderView h = new ByteOrderView(pristine);
        long indexOffset = h.u64(Header.INDEX_OFFSET_AT);
        for (long pos = Header.SIZE; pos < indexOffset; pos += Math.max(1, (indexOffset - Header.SIZE) / 97)) {
            byte[] d = pristine.clone();
            d[(int) pos] ^= 0x5a;
            assertDetected(d, "flip at " + pos);
        }
    }

    @Test
    void flippedBytesInIndexAndHeaderAreRefusedOnOpen() throws IOException {
        ByteOrderView h = new ByteOrderView(pristine);
        long indexOffset = h.u64(Header.INDEX_OFFSET_AT);
        for (long pos = indexOffset; pos < pristine.length; pos += Math.max(1, (pristine.length - indexOffset) / 53)) {
            byte[] d = pristine.clone();
            d[(int) pos] ^= 0x01;
            Path p = write(d);
            assertThrows(ImageException.class, () -> ModuleImage.open(p).close(), "index flip at " + pos);
        }
        for (int pos = 0; pos < Header.SIZE; pos++) {
            byte[] d = pristine.clone();
            d[pos] ^= 0x10;
            Path p = write(d);
            assertThrows(ImageException.class, () -> ModuleImage.open(p).close(), "header flip at " + pos);
        }
    }

    @Test
    void truncationAnywhereIsRefused() throws IOException {
        for (int len : new int[] {0, 1, 8, 63, 64, 65, 1000, pristine.length / 2, pristine.length - 100, pristine.length - 1}) {
            Path p = write(java.util.Arrays.copyOf(pristine, len));
            ImageException e = assertThrows(ImageException.class, () -> ModuleImage.open(p).close(), "truncated to " + len);
            assertFalse(e.getMessage().contains("\n"));
        }
        byte[] longer = java.util.Arrays.copyOf(pristine, pristine.length + 1);
        Path p = write(longer);
        assertThrows(ImageException.class, () -> ModuleImage.open(p).close());
    }

    @Test
    void aFileThatIsNotAnImageIsRefused() throws IOException {
        Path p = tmp.resolve("unused");
        ImageException e = assertThrows(ImageException.class, () -> ModuleImage.open(p).close());
        assertTrue(e.getMessage().contains("not a kmodpack image"), e.getMessage());
        assertThrows(ImageException.class, () -> ModuleImage.open(tmp.resolve("absent")).close());
    }

    @Test
    void damageFoundAfterOpenFailsTheReadThatMeetsIt() throws IOException {
        // The file is damaged under an open reader (replaced in place): reads fail, never lie.
        Path p = tmp.resolve("live");
        Files.write(p, pristine);
        try (ModuleImage img = ModuleImage.open(p)) {
            ByteOrderView h = new ByteOrderView(pristine);
            byte[] d = pristine.clone();
            for (long i = Header.SIZE; i < h.u64(Header.INDEX_OFFSET_AT); i += 7) {
                d[(int) i] ^= (byte) 0xff;
            }
            Files.write(p, d);
            int failed = 0;
            for (ImageEntry e : img.entries()) {
                if (e.isRegularFile() && e.size() > 0) {
                    try {
                        img.readAllBytes(e);
                        fail("read of " + img.path(e) + " succeeded on a destroyed image");
                    } catch (ImageException expected) {
                        failed++;
                    }
                }
            }
            assertTrue(failed > 0);
            List<String> damaged = img.verify(null).damagedFiles();
            assertFalse(damaged.isEmpty());
        }
    }

    /** Little-endian reads of the raw image bytes. */
    record ByteOrderView(byte[] b) {
        long u64(int off) {
            return java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(off);
        }
    }
}

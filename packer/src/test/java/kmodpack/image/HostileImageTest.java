package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import kmodpack.packer.Extractor;
import kmodpack.packer.ImageBuilder;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import kmodpack.image.ImageLayout.EntryRecord;
import kmodpack.image.ImageLayout.Header;

/**
 * Images crafted to escape the extraction directory: names "..", names with '/', a link and a
 * directory of the same name, a child claimed by a link. All have valid checksums (an attacker
 * can compute them), so the reader's structural checks are what stops them.
 */
class HostileImageTest {
    @TempDir
    Path tmp;

    /** An uncompressed image (codec none, index stored raw) of a small tree, to patch by hand. */
    private byte[] plainImage(Path src) throws IOException {
        Path image = tmp.resolve("plain");
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.NONE, 0, 4096, 1), null);
        return Files.readAllBytes(image);
    }

    /** Replaces every occurrence of a string in the string table and refreshes the checksums. */
    private static byte[] patch(byte[] image, String from, String to) {
        assertEquals(from.length(), to.length());
        ByteBuffer h = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        int indexOffset = (int) h.getLong(Header.INDEX_OFFSET_AT);
        assertEquals(0, image[Header.INDEX_CODEC_AT], "index is stored raw");
        byte[] f = from.getBytes(StandardCharsets.UTF_8);
        byte[] t = to.getBytes(StandardCharsets.UTF_8);
        int hits = 0;
        for (int i = indexOffset; i + f.length <= image.length; i++) {
            if (java.util.Arrays.equals(image, i, i + f.length, f, 0, f.length)) {
                System.arraycopy(t, 0, image, i, t.length);
                hits++;
            }
        }
        assertTrue(hits > 0, "nothing to patch");
        int crc = ImageLayout.crc(image, indexOffset, image.length - indexOffset);
        h.putInt(Header.INDEX_STORED_CRC_AT, crc).putInt(Header.INDEX_RAW_CRC_AT, crc);
        Header.seal(image);
        return image;
    }

    private void assertRefused(byte[] image) throws IOException {
        Path p = tmp.resolve("hostile");
        Files.write(p, image);
        Path out = tmp.resolve("out");
        ImageException e = assertThrows(ImageException.class, () -> {
            try (ModuleImage img = ModuleImage.open(p)) {
                Extractor.extract(img, out, List.of(), null);
            }
        });
        assertTrue(e.getMessage().contains("damaged image index"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("escaped")), "something was written outside");
    }

    @Test
    void dotDotNamesAreRefused() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("zz"));
        Files.writeString(src.resolve("zz/escaped"), "x");
        assertRefused(patch(plainImage(src), "zz", ".."));
    }

    @Test
    void namesWithSlashesAreRefused() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("a_escaped"), "x");
        assertRefused(patch(plainImage(src), "a_escaped", "/_escaped"));
    }

    @Test
    void aLinkAndADirectoryOfTheSameNameAreRefused() throws IOException {
        // "a" -> outside, then "b/escaped": renaming b to a gives a link and a directory both
        // called "a", the classic way to write through a link.
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("b"));
        Files.writeString(src.resolve("b/escaped"), "x");
        Files.createSymbolicLink(src.resolve("a"), tmp);
        assertRefused(patch(plainImage(src), "b", "a"));
    }

    @Test
    void extractionNeverFollowsLinksAlreadyInTheTarget() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("kernel"));
        Files.writeString(src.resolve("kernel/escaped"), "x");
        Path image = tmp.resolve("image");
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.XZ, 0, 4096, 1), null);
        Path out = tmp.resolve("out");
        Files.createDirectories(out);
        Path outside = tmp.resolve("outside");
        Files.createDirectories(outside);
        Files.createSymbolicLink(out.resolve("kernel"), outside);
        try (ModuleImage img = ModuleImage.open(image)) {
            ImageException e = assertThrows(ImageException.class, () -> Extractor.extract(img, out, List.of(), null));
            assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        }
        assertEquals(List.of(""), TreeAssert.relativePaths(outside));
    }

    @Test
    void extractionIntoAFileIsRefused() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("f"), "x");
        Path image = tmp.resolve("image");
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.LZ4, 0, 4096, 1), null);
        Path target = tmp.resolve("a-file");
        Files.writeString(target, "keep me");
        try (ModuleImage img = ModuleImage.open(image)) {
            assertThrows(ImageException.class, () -> Extractor.extract(img, target, List.of(), null));
        }
        assertEquals("keep me", Files.readString(target));
    }

    @Test
    void namesWithNulAreRefused() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("a_escaped"), "x");
        assertRefused(patch(plainImage(src), "a_escaped", "a\0escaped"));
    }

    @Test
    void absoluteNamesAreRefused() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("xtmpxescaped"), "x");
        assertRefused(patch(plainImage(src), "xtmpxescaped", "/tmp/escaped"));
    }

    @Test
    void aLinkAndAFileOfTheSameNameAreRefused() throws IOException {
        // The link comes first in byte order, the file "a" would be written through it.
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.createSymbolicLink(src.resolve("a"), tmp.resolve("escaped"));
        Files.writeString(src.resolve("b"), "x");
        assertRefused(patch(plainImage(src), "b", "a"));
    }

    /** A directory whose children start at itself or at an entry before it: a cycle of parents. */
    @Test
    void cyclicParentsAreRefused() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("d/e"));
        Files.writeString(src.resolve("d/e/escaped"), "x");
        CraftedImage pristine = CraftedImage.of(src, tmp);
        int d = pristine.entryNamed("d"), e = pristine.entryNamed("e");
        // d's children start at d itself.
        CraftedImage self = pristine.copy();
        self.buf.putLong(self.entry(d) + EntryRecord.LOCATION_AT, d);
        assertRefused(Files.readAllBytes(self.write(tmp.resolve("self"))));
        // e names the root's first child as its children: d would sit below its own child.
        CraftedImage loop = pristine.copy();
        loop.buf.putLong(loop.entry(e) + EntryRecord.LOCATION_AT, d);
        assertRefused(Files.readAllBytes(loop.write(tmp.resolve("loop"))));
        // An entry that names itself as its parent.
        CraftedImage parent = pristine.copy();
        parent.buf.putInt(parent.entry(e) + EntryRecord.PARENT_AT, e);
        assertRefused(Files.readAllBytes(parent.write(tmp.resolve("parent"))));
    }

    /**
     * Two files whose extents overlap (one pointing into the other's bytes) are within the data:
     * the reader accepts them, and each is extracted inside the target with the bytes it names.
     */
    @Test
    void overlappingExtentsStayInsideTheTarget() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("a"), "0123456789".repeat(100));
        Files.writeString(src.resolve("b"), "abcdefghij");
        CraftedImage img = CraftedImage.of(src, tmp);
        int a = img.entryNamed("a"), b = img.entryNamed("b");
        long aAt = img.buf.getLong(img.entry(a) + EntryRecord.LOCATION_AT);
        img.buf.putLong(img.entry(b) + EntryRecord.LOCATION_AT, aAt + 5);
        Path p = img.write(tmp.resolve("overlap"));
        Path out = tmp.resolve("out");
        try (ModuleImage m = ModuleImage.open(p)) {
            Extractor.extract(m, out, List.of(), null);
        }
        assertEquals("5678901234", Files.readString(out.resolve("b")));
        assertEquals("0123456789".repeat(100), Files.readString(out.resolve("a")));
        assertEquals(List.of("", "a", "b"), TreeAssert.relativePaths(out));
        assertFalse(Files.exists(tmp.resolve("escaped")));
    }

    /** Sizes far beyond the data: refused on open, nothing allocated or written. */
    @Test
    void hugeSizesAreRefused() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("a"), "x");
        for (long size : new long[] {1L << 40, Long.MAX_VALUE, Long.MAX_VALUE - 4, -1}) {
            CraftedImage img = CraftedImage.of(src, tmp);
            img.buf.putLong(img.entry(img.entryNamed("a")) + EntryRecord.SIZE_AT, size);
            assertRefused(Files.readAllBytes(img.write(tmp.resolve("huge"))));
        }
    }
}

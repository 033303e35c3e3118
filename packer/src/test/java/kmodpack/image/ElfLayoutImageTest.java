package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import kmodpack.image.ImageLayout.BlockRecord;
import kmodpack.image.ImageLayout.EntryRecord;
import kmodpack.image.ImageLayout.StreamRecord;
import kmodpack.packer.Extractor;
import kmodpack.packer.ImageBuilder;
import kmodpack.testkit.KernelTrees;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Images with the ELF layout (FORMAT.md, transform 1) of a small tree of real modules, a file
 * that only looks like one and ordinary files: every read path gives back the files' bytes, and
 * crafted part start rows and part 0 contents (valid checksums, as an attacker would write them)
 * give ImageException, never anything else.
 */
class ElfLayoutImageTest {
    @TempDir
    Path tmp;
    Path src;

    private static final List<String> MODULES = List.of("kernel/fs/ext4/ext4.ko", "kernel/fs/jbd2/jbd2.ko",
            "kernel/lib/crc16.ko", "kernel/fs/mbcache.ko");

    @BeforeEach
    void tree() throws IOException {
        Path real = KernelTrees.get("amd64").modulesDir();
        src = tmp.resolve("src");
        for (String m : MODULES) {
            Files.createDirectories(src.resolve(m).getParent());
            Files.copy(real.resolve(m), src.resolve(m));
        }
        Files.copy(real.resolve("modules.dep.bin"), src.resolve("modules.dep.bin"));
        Files.writeString(src.resolve("modules.order"), String.join("\n", MODULES) + "\n");
        byte[] fake = "\177ELF but not a module".getBytes();
        Files.write(src.resolve("kernel/fake.ko"), fake);
        Files.write(src.resolve("kernel/empty.ko"), new byte[0]);
    }

    private Path build(Codec codec, int blockSize) throws IOException {
        Path image = tmp.resolve("elf-" + codec.displayName() + "-" + blockSize);
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(codec, codec == Codec.XZ ? 1 : 0, blockSize, 2)
                .withLayout(ImageWriter.Layout.ELF), null);
        return image;
    }

    @Test
    void everyReadPathGivesBackTheFiles() throws IOException {
        for (Codec codec : Codec.values()) {
            Path image = build(codec, codec == Codec.NONE ? 4096 : 1 << 16);
            try (ModuleImage img = ModuleImage.open(image)) {
                assertEquals(List.of("data", "hot", "headers", "code", "rela", "btf", "symtab", "other"),
                        img.streams().stream().map(StreamInfo::name).toList());
                assertTrue(img.verify(null).ok());
                Random rnd = new Random(7);
                for (String m : MODULES) {
                    byte[] want = Files.readAllBytes(src.resolve(m));
                    ImageEntry e = img.lookup(m);
                    assertEquals(ImageFormat.TRANSFORM_ELF, e.transform, m);
                    assertArrayEquals(want, img.readAllBytes(e), m);
                    // small reads at any offset, as FUSE makes them, from the joined file
                    for (int k = 0; k < 50; k++) {
                        int off = rnd.nextInt(want.length);
                        int len = Math.min(rnd.nextInt(5000) + 1, want.length - off);
                        byte[] got = new byte[len];
                        assertEquals(len, img.read(e, off, got, 0, len));
                        assertArrayEquals(java.util.Arrays.copyOfRange(want, off, off + len), got, m + " at " + off);
                    }
                    assertEquals(0, img.read(e, want.length, new byte[4], 0, 4));
                    assertEquals(-1, img.blockOf(e, 0), "no one block holds a joined file's byte");
                    assertTrue(img.blocksOf(e).length >= 5, m + " draws from the part streams");
                }
                assertEquals(ImageFormat.TRANSFORM_IDENTITY, img.lookup("kernel/fake.ko").transform);
                Extractor.extract(img, tmp.resolve("out-" + codec.displayName()), List.of(), null);
            }
            TreeAssert.assertSameTree(src, tmp.resolve("out-" + codec.displayName()));
        }
    }

    @Test
    void imagesAreTheSameWhateverTheThreadCount() throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        ImageBuilder.build(src, "v", a, new ImageWriter.Options(Codec.XZ, 1, 1 << 14, 1).withLayout(ImageWriter.Layout.ELF), null);
        ImageBuilder.build(src, "v", b, new ImageWriter.Options(Codec.XZ, 1, 1 << 14, 3).withLayout(ImageWriter.Layout.ELF), null);
        assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
    }

    /** Built once per test: each crafted image starts from a fresh copy of it. */
    private Path uncompressed;

    /** The uncompressed ELF image as a crafted image, with one module's entry and part start row. */
    private final class Crafted {
        final CraftedImage img;
        final String path;
        final int entry;
        final int row;

        Crafted() throws IOException {
            this("kernel/fs/ext4/ext4.ko");
        }

        Crafted(String path) throws IOException {
            this.path = path;
            if (uncompressed == null) {
                uncompressed = build(Codec.NONE, 4096);
            }
            img = CraftedImage.read(uncompressed);
            entry = img.entry(img.entryNamed(path.substring(path.lastIndexOf('/') + 1)));
            assertEquals(ImageFormat.TRANSFORM_ELF, ImageLayout.transformOf(img.buf.getInt(entry + EntryRecord.CHILD_COUNT_OR_LAYOUT_AT)));
            row = img.strings() + (int) img.buf.getLong(entry + EntryRecord.LOCATION_AT);
        }

        long streamLength(int part) {
            return img.buf.getLong(img.stream(2 + part) + StreamRecord.RAW_LENGTH_AT);
        }

        /** Opens the crafted image and reads the module whole and in a piece. */
        void read(String what) throws IOException {
            Path p = img.write(tmp.resolve("crafted"));
            ImageException e = assertThrows(ImageException.class, () -> {
                try (ModuleImage m = ModuleImage.open(p)) {
                    ImageEntry module = m.lookup(path);
                    try {
                        m.readAllBytes(module);
                    } finally {
                        m.read(module, 100, new byte[10], 0, 10);
                    }
                }
            }, what);
            assertFalse(e.getMessage().isEmpty());
        }
    }

    @Test
    void craftedStartRowsAreRefused() throws IOException {
        // the row outside the string table
        Crafted r = new Crafted();
        r.img.buf.putLong(r.entry + EntryRecord.LOCATION_AT, r.img.bytes.length);
        r.read("row past the string table");
        r.img.buf.putLong(r.entry + EntryRecord.LOCATION_AT, -8);
        r.read("row before the string table");
        // a start past its stream, or over 2^63
        for (int part = 0; part < 6; part++) {
            Crafted s = new Crafted();
            s.img.buf.putLong(s.row + 8 * part, s.streamLength(part) + 1);
            s.read("part " + part + " past its stream");
            s.img.buf.putLong(s.row + 8 * part, Long.MIN_VALUE + 5);
            s.read("part " + part + " at a negative start");
        }
        // parts that run past their stream's end: the starts moved towards the end
        for (int part = 0; part < 6; part++) {
            Crafted s = new Crafted();
            s.img.buf.putLong(s.row + 8 * part, s.streamLength(part) - 2);
            s.read("part " + part + " runs past its stream");
        }
        // the six streams of the layout word must exist
        Crafted w = new Crafted();
        w.img.buf.putInt(w.entry + EntryRecord.CHILD_COUNT_OR_LAYOUT_AT, ImageLayout.layoutWord(ImageFormat.TRANSFORM_ELF, 3));
        w.read("streams 3 to 8 of 8");
        w.img.buf.putInt(w.entry + EntryRecord.CHILD_COUNT_OR_LAYOUT_AT, ImageLayout.layoutWord(2, 2));
        w.read("an unknown transform");
        // the entry's size disagrees with part 0
        Crafted z = new Crafted();
        z.img.buf.putLong(z.entry + EntryRecord.SIZE_AT, z.img.buf.getLong(z.entry + EntryRecord.SIZE_AT) - 1);
        z.read("size one less than part 0 says");
        z.img.buf.putLong(z.entry + EntryRecord.SIZE_AT, Long.MAX_VALUE);
        z.read("a size no part 0 can describe");
    }

    @Test
    void part0ThatDisagreesWithItsPartsIsRefused() throws IOException {
        // Part 0 of the last module in the streams (data order) says the file is longer, and so
        // does its entry: part 5 ("other") would run past its stream's end. The checksums are made good.
        for (long delta : new long[] {5, 1L << 40}) {
            Crafted c = new Crafted("kernel/lib/crc16.ko");
            long start0 = c.img.buf.getLong(c.row);
            int headers = c.img.buf.getInt(c.img.stream(2) + StreamRecord.FIRST_BLOCK_AT);
            int bs = 4096;
            int block = headers + (int) ((start0 + 8) / bs);
            int rec = c.img.block(block);
            int at = (int) c.img.buf.getLong(rec + BlockRecord.OFFSET_AT) + (int) ((start0 + 8) % bs);
            assertEquals(BlockRecord.FLAG_RAW, c.img.buf.getInt(rec + BlockRecord.FLAGS_AT), "codec none: stored raw");
            c.img.buf.putLong(at, c.img.buf.getLong(at) + delta);
            int len = c.img.buf.getInt(rec + BlockRecord.STORED_LENGTH_AT);
            int off = (int) c.img.buf.getLong(rec + BlockRecord.OFFSET_AT);
            int crc = ImageLayout.crc(c.img.bytes, off, len);
            c.img.buf.putInt(rec + BlockRecord.STORED_CRC_AT, crc).putInt(rec + BlockRecord.RAW_CRC_AT, crc);
            c.img.buf.putLong(c.entry + EntryRecord.SIZE_AT, c.img.buf.getLong(c.entry + EntryRecord.SIZE_AT) + delta);
            c.read("part 0 with a file length changed by " + delta);
        }
    }

    @Test
    void verifyNamesTheModuleWhosePartIsDamaged() throws IOException {
        Crafted c = new Crafted();
        long codeStart = c.img.buf.getLong(c.row + 8);
        int code = c.img.buf.getInt(c.img.stream(3) + StreamRecord.FIRST_BLOCK_AT);
        int rec = c.img.block(code + (int) (codeStart / 4096));
        int at = (int) c.img.buf.getLong(rec + BlockRecord.OFFSET_AT) + (int) (codeStart % 4096);
        c.img.bytes[at] ^= 0x55;
        Path p = c.img.write(tmp.resolve("damaged"));
        try (ModuleImage m = ModuleImage.open(p)) {
            ModuleImage.VerifyResult v = m.verify(null);
            assertFalse(v.ok());
            assertTrue(v.damagedFiles().contains("kernel/fs/ext4/ext4.ko"), v.toString());
            assertThrows(ImageException.class, () -> m.readAllBytes(m.lookup("kernel/fs/ext4/ext4.ko")));
        }
    }
}

package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import kmodpack.image.ImageLayout.BlockRecord;
import kmodpack.image.ImageLayout.EntryRecord;
import kmodpack.image.ImageLayout.Header;

/**
 * Numbers read from an image are untrusted: lengths are bounded before anything is allocated
 * for them, offsets near 2^63 do not wrap round a range check, mode bits outside type and
 * permissions are refused, and whatever the bytes, the reader throws only ImageException.
 */
class UntrustedNumbersTest {
    @TempDir
    Path tmp;

    private CraftedImage pristine;

    private CraftedImage crafted() throws IOException {
        if (pristine != null) {
            return pristine.copy();
        }
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.createDirectories(src.resolve("kernel"));
        Files.writeString(src.resolve("kernel/a.ko"), "module a".repeat(700));
        Files.writeString(src.resolve("modules.dep"), "kernel/a.ko:\n");
        Files.createSymbolicLink(src.resolve("build"), Path.of("/usr/src/linux-headers-v"));
        pristine = CraftedImage.of(src, tmp);
        return pristine.copy();
    }

    private ImageException refused(Path p) {
        return assertThrows(ImageException.class, () -> ModuleImage.open(p).close());
    }

    /** A 377-byte file whose header claims a 2 GiB index: refused before the 2 GiB are allocated. */
    static byte[] hugeIndexClaim() {
        byte[] f = new byte[377];
        new Random(1).ints(377 - 64).forEach(new java.util.function.IntConsumer() {
            int at = 64;

            @Override
            public void accept(int v) {
                f[at++] = (byte) v;
            }
        });
        byte[] h = new Header(ImageFormat.MAJOR_V1, 0, Codec.XZ.id, Codec.XZ.id, 1 << 20, 0, Header.SIZE, 377 - Header.SIZE,
                Integer.MAX_VALUE - 16, ImageLayout.crc(f, Header.SIZE, 377 - Header.SIZE), 0).encode();
        System.arraycopy(h, 0, f, 0, Header.SIZE);
        return f;
    }

    @Test
    void aSmallFileCannotClaimAHugeIndex() throws IOException {
        Path p = Files.write(tmp.resolve("claims-2GiB"), hugeIndexClaim());
        ImageException e = refused(p);
        assertTrue(e.getMessage().contains("cannot decode to 2147483631"), e.getMessage());
    }

    @Test
    void aBlockCannotClaimMoreThanItsCodecCanExpand() throws IOException {
        CraftedImage c = crafted();
        // Codec none stores raw: 1 byte stored cannot give a 4096-byte block.
        c.buf.putInt(c.block(0) + BlockRecord.STORED_LENGTH_AT, 1);
        assertTrue(refused(c.write(tmp.resolve("x"))).getMessage().contains("block 0 has a bad record"));
    }

    @Test
    void offsetsNearTwoToThe63DoNotWrapRoundTheRangeChecks() throws IOException {
        CraftedImage c = crafted();
        int link = c.entry(c.entryNamed("build"));
        c.buf.putLong(link + EntryRecord.LOCATION_AT, Long.MAX_VALUE - 2);
        assertTrue(refused(c.write(tmp.resolve("link"))).getMessage().contains("bad target"));

        c = crafted();
        c.buf.putLong(c.block(0) + BlockRecord.OFFSET_AT, Long.MAX_VALUE - 10);
        assertTrue(refused(c.write(tmp.resolve("block"))).getMessage().contains("bad record"));

        c = crafted();
        int file = c.entry(c.entryNamed("a.ko"));
        c.buf.putLong(file + EntryRecord.LOCATION_AT, Long.MAX_VALUE);
        assertTrue(refused(c.write(tmp.resolve("file"))).getMessage().contains("outside the data"));

        c = crafted();
        c.buf.putLong(c.entry(0) + EntryRecord.LOCATION_AT, Long.MAX_VALUE);
        assertTrue(refused(c.write(tmp.resolve("dir"))).getMessage().contains("bad children"));
    }

    @Test
    void unknownTransformsStreamsAndLayoutBitsAreRefused() throws IOException {
        int[] words = {ImageLayout.layoutWord(0xff, 0), ImageLayout.layoutWord(ImageFormat.TRANSFORM_IDENTITY, 200),
            ImageLayout.layoutWord(ImageFormat.TRANSFORM_IDENTITY, 0) | 1 << 24};
        for (int word : words) {
            CraftedImage c = crafted();
            c.buf.putInt(c.entry(c.entryNamed("a.ko")) + EntryRecord.CHILD_COUNT_OR_LAYOUT_AT, word);
            String why = refused(c.write(tmp.resolve("layout"))).getMessage();
            assertTrue(why.contains("unknown layout"), Integer.toHexString(word) + ": " + why);
        }
    }

    @Test
    void modeBitsOutsideTypeAndPermissionsAreRefused() throws IOException {
        CraftedImage c = crafted();
        int file = c.entry(c.entryNamed("a.ko"));
        c.buf.putInt(file + EntryRecord.MODE_AT, c.buf.getInt(file + EntryRecord.MODE_AT) | 0x40000000);
        assertTrue(refused(c.write(tmp.resolve("mode"))).getMessage().contains("mode bits"));
    }

    /**
     * Every byte of the index and header, set to each of a few telling values with the
     * checksums refreshed: the image is refused with ImageException, or it opens and every
     * operation on it works or throws ImageException. Nothing else escapes.
     */
    @Test
    void anyChangeGivesOnlyImageExceptions() throws IOException {
        CraftedImage pristine = crafted();
        int[] values = {0x00, 0x01, 0x7f, 0x80, 0xff};
        int opened = 0;
        for (int at = 0; at < pristine.bytes.length; at++) {
            if (at >= Header.SIZE && at < pristine.indexAt || at >= Header.INDEX_STORED_CRC_AT && at < Header.SIZE) {
                continue; // block bytes and checksums: CorruptionTest's ground
            }
            for (int v : values) {
                CraftedImage c = crafted();
                if ((c.bytes[at] & 0xff) == v) {
                    continue;
                }
                c.bytes[at] = (byte) v;
                Path p = c.write(tmp.resolve("mutant"));
                try (ModuleImage img = ModuleImage.open(p)) {
                    opened++;
                    exercise(img);
                } catch (ImageException expected) {
                    // refused, or a read found damage: both are the reader's own answer
                } catch (Throwable t) {
                    fail("byte " + at + " = " + v + ": " + t, t);
                }
            }
        }
        assertTrue(opened > 0, "some changes (mtimes, owners) leave a valid image");
    }

    private static void exercise(ModuleImage img) throws IOException {
        for (ImageEntry e : img.entries()) {
            img.path(e);
            img.list(e);
            img.lookup(img.path(e));
            if (e.isSymlink()) {
                img.readlink(e);
                img.readlinkBytes(e);
            } else if (e.isRegularFile()) {
                img.readAllBytes(e);
                byte[] b = new byte[100];
                img.read(e, Math.max(0, e.size() - 50), b, 0, b.length);
                img.read(e, Long.MAX_VALUE - 1, b, 0, b.length);
                img.newInputStream(e).readAllBytes();
            }
        }
        img.verify(null);
    }
}

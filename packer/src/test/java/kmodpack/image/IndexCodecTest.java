package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import kmodpack.image.ImageLayout.Header;
import kmodpack.packer.ImageBuilder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index codec (FORMAT.md, Index): kmodpack writes version 2 indexes raw, and reads an index
 * of any codec, as images from earlier writers (xz or lz4 indexes) have them.
 */
class IndexCodecTest {
    @TempDir
    Path tmp;

    private Path image(Codec codec) throws IOException {
        Path src = Files.createDirectories(tmp.resolve("src/kernel"));
        Files.writeString(src.resolve("../modules.dep.bin"), "hot".repeat(9000));
        for (int i = 0; i < 40; i++) {
            Files.writeString(src.resolve("m" + i + ".ko"), ("module " + i + " ").repeat(500 + 37 * i));
        }
        Path image = tmp.resolve("image-" + codec);
        ImageBuilder.build(tmp.resolve("src"), "v", image, new ImageWriter.Options(codec, 0, 4096, 1), null);
        return image;
    }

    @ParameterizedTest
    @EnumSource(Codec.class)
    void versionTwoIndexesAreStoredRaw(Codec codec) throws IOException {
        Header h = Header.decode(Files.readAllBytes(image(codec)));
        assertEquals(ImageFormat.MAJOR, h.major());
        assertEquals(Codec.NONE.id, h.indexCodec());
        assertEquals(h.indexRawLength(), h.indexStoredLength());
    }

    /** The same image with its index packed by {@code codec}, as an earlier writer did. */
    private Path withIndexCodec(Path raw, Codec codec) throws IOException {
        byte[] bytes = Files.readAllBytes(raw);
        Header h = Header.decode(bytes);
        int at = (int) h.indexOffset();
        byte[] index = Arrays.copyOfRange(bytes, at, bytes.length);
        byte[] packed = codec.compress(index, index.length, codec.defaultLevel, index.length);
        Header packedHeader = new Header(h.major(), h.minor(), h.codec(), codec.id, h.blockSize(), h.dataLength(),
                h.indexOffset(), packed.length, index.length, ImageLayout.crc(packed, 0, packed.length), h.indexRawCrc());
        byte[] out = Arrays.copyOf(bytes, at + packed.length);
        System.arraycopy(packedHeader.encode(), 0, out, 0, Header.SIZE);
        System.arraycopy(packed, 0, out, at, packed.length);
        Path p = tmp.resolve(raw.getFileName() + "-index-" + codec);
        Files.write(p, out);
        return p;
    }

    @Test
    void indexesOfEveryCodecRead() throws IOException {
        Path raw = image(Codec.XZ);
        for (Codec codec : List.of(Codec.LZ4, Codec.XZ)) {
            Path packed = withIndexCodec(raw, codec);
            assertEquals(codec.id, Header.decode(Files.readAllBytes(packed)).indexCodec());
            try (ModuleImage a = ModuleImage.open(raw); ModuleImage b = ModuleImage.open(packed)) {
                assertEquals(a.entryCount(), b.entryCount());
                for (int i = 0; i < a.entryCount(); i++) {
                    ImageEntry ea = a.entries().get(i);
                    ImageEntry eb = b.entries().get(i);
                    assertEquals(a.path(ea), b.path(eb));
                    if (ea.isRegularFile()) {
                        assertArrayEquals(a.readAllBytes(ea), b.readAllBytes(eb), a.path(ea));
                    }
                }
            }
        }
    }

    @Test
    void aRawIndexWithAWrongChecksumIsDamage() throws IOException {
        byte[] bytes = Files.readAllBytes(image(Codec.XZ));
        Header h = Header.decode(bytes);
        // The raw checksum must match too, though the bytes are the stored ones.
        Header bad = new Header(h.major(), h.minor(), h.codec(), h.indexCodec(), h.blockSize(), h.dataLength(),
                h.indexOffset(), h.indexStoredLength(), h.indexRawLength(), h.indexStoredCrc(), h.indexRawCrc() ^ 1);
        System.arraycopy(bad.encode(), 0, bytes, 0, Header.SIZE);
        Path p = tmp.resolve("bad-raw-crc");
        Files.write(p, bytes);
        ImageException e = assertThrows(ImageException.class, () -> ModuleImage.open(p).close());
        assertEquals(p + ": damaged image index (checksum mismatch after decoding)", e.getMessage());
    }
}

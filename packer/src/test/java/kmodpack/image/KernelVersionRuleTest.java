package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import kmodpack.packer.ImageBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import kmodpack.image.ImageLayout.Header;
import kmodpack.image.ImageLayout.IndexHeader;

/**
 * The kernel version names the directory that mount and extract use (/lib/modules/VERSION), so
 * FORMAT.md makes it one path component, like an entry name; the reader refuses anything else
 * on open and the writer never writes it.
 */
class KernelVersionRuleTest {
    @TempDir
    Path tmp;

    private CraftedImage image() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("modules.dep"), "");
        return CraftedImage.of(src, tmp);
    }

    /** Appends {@code version} to the string table and points the index header at it. */
    private Path withVersion(byte[] version) throws IOException {
        CraftedImage c = image();
        byte[] grown = java.util.Arrays.copyOf(c.bytes, c.bytes.length + version.length);
        System.arraycopy(version, 0, grown, c.bytes.length, version.length);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(grown).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int stringLength = b.getInt(c.indexField(IndexHeader.STRING_TABLE_LENGTH_AT));
        b.putInt(c.indexField(IndexHeader.STRING_TABLE_LENGTH_AT), stringLength + version.length);
        b.putInt(c.indexField(IndexHeader.VERSION_OFFSET_AT), stringLength);
        b.putInt(c.indexField(IndexHeader.VERSION_LENGTH_AT), version.length);
        b.putLong(Header.INDEX_STORED_LENGTH_AT, b.getLong(Header.INDEX_STORED_LENGTH_AT) + version.length);
        int crc = ImageLayout.crc(grown, c.indexAt, grown.length - c.indexAt);
        b.putInt(Header.INDEX_STORED_CRC_AT, crc).putInt(Header.INDEX_RAW_CRC_AT, crc);
        b.putInt(Header.INDEX_RAW_LENGTH_AT, grown.length - c.indexAt);
        Header.seal(grown);
        return Files.write(tmp.resolve("crafted"), grown);
    }

    private void assertRefused(String version) throws IOException {
        Path p = withVersion(version.getBytes(StandardCharsets.UTF_8));
        ImageException e = assertThrows(ImageException.class, () -> ModuleImage.open(p).close(), version);
        assertTrue(e.getMessage().contains("kernel version"), e.getMessage());
    }

    @Test
    void aVersionThatIsOneNameOpens() throws IOException {
        try (ModuleImage img = ModuleImage.open(withVersion("6.1.0-56-amd64".getBytes(StandardCharsets.UTF_8)))) {
            assertEquals("6.1.0-56-amd64", img.kernelVersion());
        }
    }

    @Test
    void versionsThatLeaveLibModulesAreRefused() throws IOException {
        assertRefused("../../../../root/.ssh");
        assertRefused("..");
        assertRefused(".");
        assertRefused("a/b");
        assertRefused("/root");
        assertRefused("6.1\0x");
        assertRefused("");
        assertRefused("x".repeat(256));
    }

    @Test
    void theWriterRefusesThemToo() throws IOException {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        for (String bad : new String[] {"..", "a/b", "", "x\0"}) {
            assertThrows(IllegalArgumentException.class,
                    () -> ImageBuilder.build(src, bad, tmp.resolve("out"), new ImageWriter.Options(Codec.NONE, 0, 4096, 1), null), bad);
        }
        assertEquals(java.util.List.of("src"), java.util.List.of(tmp.toFile().list()), "no image or temporary file left");
    }
}

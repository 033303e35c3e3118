package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import kmodpack.packer.ImageBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Path resolution inside an image, links and ".." included, checked against the same tree on disk. */
class PathResolverTest {
    @TempDir
    static Path tmp;
    static Path src;
    static ModuleImage img;

    @BeforeAll
    static void pack() throws IOException {
        src = tmp.resolve("v");
        Files.createDirectories(src.resolve("kernel/fs/ext4"));
        Files.writeString(src.resolve("kernel/fs/ext4/ext4.ko"), "ext4");
        Files.createSymbolicLink(src.resolve("build"), Path.of("/usr/src/linux-headers-v"));
        Files.createSymbolicLink(src.resolve("updates"), Path.of("kernel"));
        Files.createSymbolicLink(src.resolve("kernel/fs/rel"), Path.of("../fs/ext4"));
        Files.createSymbolicLink(src.resolve("kernel/fs/here"), Path.of("ext4"));
        Files.createSymbolicLink(src.resolve("up"), Path.of("../x"));
        Files.createSymbolicLink(src.resolve("loop1"), Path.of("loop2"));
        Files.createSymbolicLink(src.resolve("loop2"), Path.of("loop1"));
        // l1 -> l2 -> ... -> l40 -> the module: 40 links, Linux's limit; l0 adds a 41st.
        for (int i = 0; i <= 40; i++) {
            Files.createSymbolicLink(src.resolve("l" + i), Path.of(i == 40 ? "kernel/fs/ext4/ext4.ko" : "l" + (i + 1)));
        }
        Path image = tmp.resolve("image");
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.NONE, 0, 4096, 1), null);
        img = ModuleImage.open(image);
    }

    @AfterAll
    static void close() throws IOException {
        img.close();
    }

    private static String resolved(String path) throws IOException {
        ImageEntry e = img.resolve(path, true);
        return e == null ? null : img.path(e);
    }

    @Test
    void linksInsideTheTreeAreFollowedAsTheKernelFollowsThem() throws IOException {
        for (String p : new String[] {"updates/fs/ext4/ext4.ko", "kernel/fs/rel/ext4.ko", "/updates//fs/./rel/ext4.ko",
                "kernel/fs/here/../ext4/ext4.ko", "l1", "kernel/fs/here/ext4.ko"}) {
            assertEquals("kernel/fs/ext4/ext4.ko", resolved(p), p);
            // The same path through the file system of the tree on disk lands on the same file.
            assertEquals(src.resolve("kernel/fs/ext4/ext4.ko").toRealPath(), src.resolve(p.replaceFirst("^/+", "")).toRealPath(), p);
        }
        assertEquals("kernel", resolved("updates/"));
        assertEquals("", resolved("kernel/.."));
    }

    @Test
    void theLastLinkIsKeptWhenAsked() throws IOException {
        assertTrue(img.resolve("updates", false).isSymlink());
        assertTrue(img.resolve("kernel/fs/rel", false).isSymlink());
        assertEquals("kernel", img.path(img.resolve("updates/", false)), "a trailing slash follows the link");
        assertEquals("kernel/fs/ext4/ext4.ko", img.path(img.resolve("updates/fs/rel/ext4.ko", false)));
    }

    @Test
    void pathsLeadingOutsideTheImageNameNothing() throws IOException {
        assertNull(resolved("build"));
        assertNull(resolved("build/include"));
        assertNull(resolved("up"));
        assertNull(resolved(".."));
        assertNull(resolved("kernel/../../v/kernel"));
        assertNull(resolved("kernel/fs/ext4/ext4.ko/"));
        assertNull(resolved("kernel/fs/ext4/ext4.ko/."));
        assertNull(resolved("kernel/missing"));
    }

    @Test
    void linkLoopsStopAtLinuxsLimit() throws IOException {
        ImageException loop = assertThrows(ImageException.class, () -> img.resolve("loop1", true));
        assertTrue(loop.getMessage().contains("too many levels of symbolic links"), loop.getMessage());
        assertThrows(ImageException.class, () -> img.resolve("l0", true));
        assertEquals("kernel/fs/ext4/ext4.ko", resolved("l1"));
    }
}

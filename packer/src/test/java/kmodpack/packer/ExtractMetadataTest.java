package kmodpack.packer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;

import kmodpack.image.Codec;
import kmodpack.image.ImageWriter;
import kmodpack.image.ModuleImage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What extract does to metadata: the image's, on what it creates, and nothing to what was there. */
class ExtractMetadataTest {
    @TempDir
    Path tmp;

    private Path image(Path src) throws IOException {
        Path image = tmp.resolve("image");
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.LZ4, 0, 4096, 1), null);
        return image;
    }

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode") & 07777;
    }

    @Test
    void anExistingTargetKeepsItsModeOwnerAndMtime() throws IOException {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Files.writeString(src.resolve("f"), "x");
        Files.setAttribute(src, "unix:mode", 0700);
        Files.setLastModifiedTime(src, FileTime.from(Instant.ofEpochSecond(1_000_000_000L)));
        Path image = image(src);

        Path shared = Files.createDirectories(tmp.resolve("shared"));
        Files.setAttribute(shared, "unix:mode", 01777);
        Object owner = Files.getAttribute(shared, "unix:uid");
        try (ModuleImage img = ModuleImage.open(image)) {
            Extractor.extract(img, shared, List.of(), null);
        }
        assertEquals(01777, mode(shared), "the sticky, world-writable directory stays so");
        assertEquals(owner, Files.getAttribute(shared, "unix:uid"));
        assertEquals("x", Files.readString(shared.resolve("f")));
        assertEquals(true, Files.getLastModifiedTime(shared).toInstant().isAfter(Instant.ofEpochSecond(1_000_000_000L)),
                "the image's root mtime is not put on a directory extract did not create");

        // A directory that extract creates does get the image's root metadata.
        Path fresh = tmp.resolve("fresh");
        try (ModuleImage img = ModuleImage.open(image)) {
            Extractor.extract(img, fresh, List.of(), null);
        }
        assertEquals(0700, mode(fresh));
        assertEquals(Instant.ofEpochSecond(1_000_000_000L), Files.getLastModifiedTime(fresh).toInstant());
    }

    @Test
    void setuidAndSetgidBitsSurviveTheOwnerBeingSet() throws IOException {
        assumeTrue("root".equals(System.getProperty("user.name")), "owners are restored only as root");
        Path src = Files.createDirectories(tmp.resolve("src"));
        Path suid = Files.writeString(src.resolve("suid"), "x");
        Path sgid = Files.writeString(src.resolve("sgid"), "x");
        // Owned by someone else, so the chown is a real change (and made first, as it clears the bits).
        Files.setAttribute(sgid, "unix:gid", 4242);
        Files.setAttribute(suid, "unix:mode", 04755);
        Files.setAttribute(sgid, "unix:mode", 02755);
        Path out = tmp.resolve("out");
        try (ModuleImage img = ModuleImage.open(image(src))) {
            Extractor.extract(img, out, List.of(), null);
        }
        assertEquals(04755, mode(out.resolve("suid")));
        assertEquals(02755, mode(out.resolve("sgid")));
        assertEquals(4242, Files.getAttribute(out.resolve("sgid"), "unix:gid"));
    }
}

package kmodpack.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import kmodpack.packer.ImageBuilder;
import kmodpack.testkit.KernelTrees;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same tree gives the same bytes, whatever the thread count and the directory listing order. */
class ReproducibilityTest {
    @TempDir
    Path tmp;

    private byte[] build(Path src, int threads) throws IOException {
        Path image = tmp.resolve("image-" + threads + "-" + System.nanoTime());
        ImageBuilder.build(src, "v", image, new ImageWriter.Options(Codec.XZ, 1, 1 << 18, threads), null);
        return Files.readAllBytes(image);
    }

    @Test
    void threadCountDoesNotChangeTheImage() throws IOException {
        Path src = KernelTrees.get("amd64").modulesDir().resolve("kernel/fs");
        assertArrayEquals(build(src, 1), build(src, 3));
    }

    @Test
    void creationOrderDoesNotChangeTheImage() throws IOException {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            names.add("m" + (i * 7919 % 1000) + ".ko");
        }
        Path a = makeTree(tmp.resolve("a"), names);
        Collections.reverse(names);
        Path b = makeTree(tmp.resolve("b"), names);
        assertArrayEquals(build(a, 2), build(b, 2));
    }

    private static Path makeTree(Path dir, List<String> names) throws IOException {
        Path sub = dir.resolve("kernel");
        Files.createDirectories(sub);
        for (String n : names) {
            Path f = sub.resolve(n);
            Files.writeString(f, "module " + n);
            Files.setLastModifiedTime(f, FileTime.from(Instant.ofEpochSecond(1_600_000_000L)));
        }
        Files.setLastModifiedTime(sub, FileTime.from(Instant.ofEpochSecond(1_600_000_000L)));
        Files.setLastModifiedTime(dir, FileTime.from(Instant.ofEpochSecond(1_600_000_000L)));
        return dir;
    }
}

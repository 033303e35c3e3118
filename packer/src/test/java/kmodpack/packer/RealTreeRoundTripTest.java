package kmodpack.packer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import kmodpack.image.Codec;
import kmodpack.image.ImageEntry;
import kmodpack.image.ImageWriter;
import kmodpack.image.ModuleImage;
import kmodpack.testkit.KernelTrees;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Debian's whole amd64 and arm64 module trees, packed and extracted: identical bytes and metadata. */
class RealTreeRoundTripTest {
    @TempDir
    Path tmp;

    private void roundTrip(String arch, Codec codec, int level) throws IOException {
        roundTrip(arch, codec, level, ImageWriter.Layout.PLAIN);
    }

    private void roundTrip(String arch, Codec codec, int level, ImageWriter.Layout layout) throws IOException {
        KernelTrees.Tree tree = KernelTrees.get(arch);
        Path image = tmp.resolve("modules-" + tree.version());
        ImageWriter.Summary s = ImageBuilder.build(tree.modulesDir(), tree.version(), image,
                new ImageWriter.Options(codec, level, 1 << 20, Runtime.getRuntime().availableProcessors()).withLayout(layout), null);
        assertTrue(s.files() > 3000, "a real tree has thousands of modules");
        Path out = tmp.resolve("out");
        try (ModuleImage img = ModuleImage.open(image)) {
            assertEquals(tree.version(), img.kernelVersion());
            assertTrue(img.verify(null).ok());
            ImageEntry dep = img.lookup("modules.dep.bin");
            assertArrayEquals(Files.readAllBytes(tree.modulesDir().resolve("modules.dep.bin")), img.readAllBytes(dep));
            Extractor.extract(img, out, List.of(), null);
        }
        TreeAssert.assertSameTree(tree.modulesDir(), out);
    }

    @Test
    void amd64TreeRoundTripsThroughLz4() throws IOException {
        roundTrip("amd64", Codec.LZ4, 0);
    }

    @Test
    void arm64TreeRoundTripsThroughXz() throws IOException {
        roundTrip("arm64", Codec.XZ, 0);
    }

    /** The ELF layout: every module cut into six streams and joined back (lz4: the transform is what is tested). */
    @Test
    void amd64TreeRoundTripsWithTheElfLayout() throws IOException {
        roundTrip("amd64", Codec.LZ4, 0, ImageWriter.Layout.ELF);
    }

    @Test
    void arm64TreeRoundTripsWithTheElfLayout() throws IOException {
        roundTrip("arm64", Codec.LZ4, 0, ImageWriter.Layout.ELF);
    }
}

package kmodpack.fuse;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import kmodpack.image.Codec;
import kmodpack.image.ImageWriter;
import kmodpack.image.ModuleImage;
import kmodpack.packer.ImageBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which reads count as a forward run (read-ahead on) and which as random ones (none). */
class ReadAheadPolicyTest {
    @TempDir
    Path tmp;

    private ImageFs fs() throws Exception {
        Path tree = tmp.resolve("6.1.0");
        Files.createDirectories(tree.resolve("kernel"));
        // Four 300 KiB files back to back in data order (name order), in 64 KiB blocks.
        for (String n : new String[] {"a.ko", "b.ko", "c.ko", "d.ko"}) {
            byte[] b = new byte[300 << 10];
            new java.util.Random(n.hashCode()).nextBytes(b);
            Files.write(tree.resolve("kernel").resolve(n), b);
        }
        Path image = tmp.resolve("modules-6.1.0");
        ImageBuilder.build(tree, "6.1.0", image, new ImageWriter.Options(Codec.LZ4, 1, 64 << 10, 1), null);
        ModuleImage img = ModuleImage.open(image);
        return new ImageFs(img, Files.size(image), ServerLog.to(new PrintStream(OutputStream.nullOutputStream())), 0);
    }

    @Test
    void aFileReadFromStartOnIsAForwardRunOnce256KiBAreRead() throws Exception {
        ImageFs fs = fs();
        var a = fs.entry("/kernel/a.ko");
        assertFalse(fs.goesForward(a, 0, 128 << 10));
        assertTrue(fs.goesForward(a, 128 << 10, 128 << 10));
    }

    @Test
    void theNextFileInDataOrderContinuesTheRun() throws Exception {
        ImageFs fs = fs();
        var a = fs.entry("/kernel/a.ko");
        var b = fs.entry("/kernel/b.ko");
        assertFalse(fs.goesForward(a, 172 << 10, 128 << 10));
        assertTrue(fs.goesForward(b, 0, 128 << 10));
    }

    @Test
    void jumpsWithinAFileOrAcrossFilesStartOver() throws Exception {
        ImageFs fs = fs();
        var a = fs.entry("/kernel/a.ko");
        var c = fs.entry("/kernel/c.ko");
        var d = fs.entry("/kernel/d.ko");
        // modinfo-like: head, tail, a middle part, then another file's head
        assertFalse(fs.goesForward(a, 0, 128 << 10));
        assertFalse(fs.goesForward(a, 296 << 10, 4 << 10));
        assertFalse(fs.goesForward(a, 140 << 10, 8 << 10));
        assertFalse(fs.goesForward(c, 0, 128 << 10));
        // a file read to its end, then the start of a file that does not follow it in the data
        assertFalse(fs.goesForward(a, 172 << 10, 128 << 10));
        assertFalse(fs.goesForward(d, 0, 128 << 10));
    }
}

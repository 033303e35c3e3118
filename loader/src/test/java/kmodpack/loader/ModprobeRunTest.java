package kmodpack.loader;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where modprobe takes modules from: only a checksummed image, never a plain directory. */
class ModprobeRunTest {
    @TempDir Path tmp;

    private ModprobeRun.SetupException refused(ModprobeRun.Source src) throws IOException {
        ModprobeRun.ImageOpener opener = file -> {
            throw new AssertionError("a directory was opened as an image: " + file);
        };
        PrintStream sink = new PrintStream(new ByteArrayOutputStream());
        return assertThrows(ModprobeRun.SetupException.class, () -> ModprobeRun.run(new Modprobe.Options(),
                List.of("ext4"), src, Host.under(tmp), opener, () -> {
                    throw new AssertionError("a system call was made");
                }, sink, (prio, text) -> { }));
    }

    @Test
    void imageOptionNamingADirectoryIsRefused() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("lib/modules/v"));
        Files.writeString(dir.resolve("modules.dep"), "kernel/a.ko:\n");
        ModprobeRun.Source src = new ModprobeRun.Source();
        src.image = dir.toString();
        src.version = "v";
        ModprobeRun.SetupException e = refused(src);
        assertTrue(e.getMessage().contains("is a directory, not a module image"), e.getMessage());
    }

    @Test
    void defaultImagePathThatIsADirectoryIsRefused() throws IOException {
        Files.createDirectories(tmp.resolve("r/boot/modules-v"));
        ModprobeRun.Source src = new ModprobeRun.Source();
        src.root = "/r";
        src.version = "v";
        ModprobeRun.SetupException e = refused(src);
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
    }
}

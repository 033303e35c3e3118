package kmodpack.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** mount without a mount point: /lib/modules/VERSION, and never a directory outside /lib/modules. */
class DefaultMountPointTest {
    @TempDir
    Path tmp;

    @Test
    void theVersionDirectoryIsCreatedInsideTheModulesRoot() throws IOException {
        Path root = tmp.resolve("lib/modules");
        Path mp = Mounter.defaultMountPoint(root, "6.1.0-56-amd64");
        assertEquals(root.toRealPath().resolve("6.1.0-56-amd64"), mp);
        assertTrue(Files.isDirectory(mp));
    }

    @Test
    void versionsThatLeaveTheModulesRootAreRefusedBeforeAnythingIsCreated() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("lib/modules"));
        for (String v : new String[] {"../../../../root/.ssh", "..", ".", "", "a/b", "../x"}) {
            assertThrows(MountException.class, () -> Mounter.defaultMountPoint(root, v), v);
        }
        assertFalse(Files.exists(tmp.resolve("root")));
        assertFalse(Files.exists(tmp.resolve("lib/x")));
        assertEquals(0, root.toFile().list().length);
    }

    @Test
    void aLinkInTheModulesRootThatPointsOutsideIsRefused() throws IOException {
        Path root = Files.createDirectories(tmp.resolve("lib/modules"));
        Path outside = Files.createDirectories(tmp.resolve("root/.ssh"));
        Files.createSymbolicLink(root.resolve("6.1.0-evil"), outside);
        MountException e = assertThrows(MountException.class, () -> Mounter.defaultMountPoint(root, "6.1.0-evil"));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
        // A dangling link is not followed to create its target either.
        Files.createSymbolicLink(root.resolve("6.1.0-dangling"), tmp.resolve("made-by-mount"));
        assertThrows(IOException.class, () -> Mounter.defaultMountPoint(root, "6.1.0-dangling"));
        assertFalse(Files.exists(tmp.resolve("made-by-mount")));
    }
}

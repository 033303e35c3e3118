package kmodpack.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Unmounting, and the checks a mount point needs first. Pure Java plus fusermount(1): no native
 * code is loaded, so these run in the short-lived command-line process.
 */
public final class Unmounter {
    private Unmounter() {
    }

    /**
     * The absolute path of a mount point as the mount table writes it. A dead mount point cannot
     * be resolved itself, so its parent is.
     */
    public static Path canonical(Path mountPoint) {
        Path abs = mountPoint.toAbsolutePath().normalize();
        try {
            return abs.toRealPath();
        } catch (IOException e) {
            Path parent = abs.getParent();
            if (parent == null || abs.getFileName() == null) {
                return abs;
            }
            try {
                return parent.toRealPath().resolve(abs.getFileName());
            } catch (IOException e2) {
                return abs;
            }
        }
    }

    /**
     * Whether a FUSE mount at this place has lost its server ("Transport endpoint is not
     * connected"): the table lists it but opening it fails. A stat is not enough: the kernel
     * may answer it from cached attributes without asking the (dead) server.
     */
    public static boolean isDead(Path mountPoint, MountTable.Mount m) {
        if (m == null || !m.isFuse()) {
            return false;
        }
        try (DirectoryStream<Path> d = Files.newDirectoryStream(mountPoint)) {
            return false;
        } catch (NoSuchFileException | NotDirectoryException | AccessDeniedException e) {
            return false;
        } catch (IOException e) {
            return true;
        }
    }

    /** What a mount point must be before an image is mounted on it. */
    public static void checkMountPoint(Path mountPoint) throws IOException {
        MountTable.Mount m = MountTable.at(mountPoint);
        if (isDead(mountPoint, m)) {
            throw new MountException(mountPoint + ": a dead mount is left here (its server stopped: \"Transport endpoint is not connected\"); clear it with: kmodpack umount " + mountPoint);
        }
        if (!Files.exists(mountPoint, LinkOption.NOFOLLOW_LINKS) && !Files.exists(mountPoint)) {
            throw new MountException(mountPoint + ": no such directory");
        }
        if (!Files.isDirectory(mountPoint)) {
            throw new MountException(mountPoint + ": not a directory");
        }
        if (m != null && m.isKmodpack()) {
            throw new MountException(mountPoint + ": already serves " + m.source() + "; unmount it first with: kmodpack umount " + mountPoint);
        }
    }

    /** The FUSE device must exist (a container may lack it; the module may be unloaded). */
    public static void checkFuseDevice() throws MountException {
        Path dev = Path.of("/dev/fuse");
        if (!Files.exists(dev)) {
            throw new MountException("/dev/fuse is missing: load the fuse module (modprobe fuse), or give the container the device (--device /dev/fuse)");
        }
        // libfuse 2 opens the device itself before it turns to fusermount, so a user who may
        // not open it cannot mount at all.
        if (!Files.isReadable(dev) || !Files.isWritable(dev)) {
            String mode = "";
            try {
                mode = " (" + PosixFilePermissions.toString(Files.getPosixFilePermissions(dev)) + ", owner "
                        + Files.getOwner(dev).getName() + ")";
            } catch (IOException | UnsupportedOperationException e) {
                // the mode is only a hint
            }
            throw new MountException("no permission to use /dev/fuse" + mode + ": mount as root, or give this user read and write access to it");
        }
    }

    /**
     * {@code kmodpack umount}: unmounts a kmodpack mount, a dead one included. A mount with
     * files still open is detached (lazy unmount): it leaves the mount table at once and its
     * server exits when the last file is closed.
     *
     * @return a note for the user, or null when there is nothing to say
     */
    public static String unmount(Path given) throws IOException {
        Path mp = canonical(given);
        MountTable.Mount m = MountTable.at(mp);
        if (m == null) {
            if (!Files.isDirectory(mp)) {
                throw new MountException(given + ": no such directory");
            }
            throw new MountException(given + ": not mounted");
        }
        if (!m.isKmodpack()) {
            throw new MountException(given + ": not a kmodpack mount (it is " + m.type() + " from " + m.source() + ")");
        }
        boolean dead = isDead(mp, m);
        Result r = fusermount(mp, false);
        if (r.ok()) {
            return dead ? given + ": cleared a dead mount (its server had stopped)" : null;
        }
        if (r.message().contains("busy")) {
            Result lazy = fusermount(mp, true);
            if (lazy.ok()) {
                return given + ": busy (a file or directory in it is open); detached: it has left the mount table, and its server exits when the last open file is closed";
            }
            r = lazy;
        }
        throw new MountException(given + ": cannot unmount: " + r.message());
    }

    /** Detaches a mount if the mount table still shows it with this source (used on SIGTERM). */
    static void detach(Path mountPoint, String source) throws IOException {
        MountTable.Mount m = MountTable.at(mountPoint);
        if (m == null || !m.isKmodpack() || !m.source().equals(source)) {
            return;
        }
        Result r = fusermount(mountPoint, true);
        if (!r.ok()) {
            throw new MountException("cannot unmount: " + r.message());
        }
    }

    private record Result(boolean ok, String message) {
    }

    /** fusermount -u [-z] (works for the user who mounted and for root); umount(8) where it is missing. */
    private static Result fusermount(Path mp, boolean lazy) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("fusermount", "-u"));
        if (lazy) {
            cmd.add("-z");
        }
        cmd.add("--");
        cmd.add(mp.toString());
        try {
            return run(cmd);
        } catch (IOException e) {
            List<String> um = new ArrayList<>(List.of("umount"));
            if (lazy) {
                um.add("-l");
            }
            um.add(mp.toString());
            return run(um);
        }
    }

    private static Result run(List<String> cmd) throws IOException {
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(false, cmd.get(0) + " did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountException("interrupted");
        }
        String msg = out.replace('\n', ' ');
        if (msg.startsWith(cmd.get(0) + ": ")) {
            msg = msg.substring(cmd.get(0).length() + 2);
        }
        return new Result(p.exitValue() == 0, msg.isEmpty() ? cmd.get(0) + " exited " + p.exitValue() : msg);
    }
}

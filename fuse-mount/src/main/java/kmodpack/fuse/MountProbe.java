package kmodpack.fuse;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import kmodpack.image.Outcome;

/**
 * Waits for a new mount to answer a stat with the image's root (inode 1), for both servers: the
 * mount is ready to report only then. The stat runs on a thread of its own, since a mount that
 * does not answer blocks it; an Outcome and a named class rather than a FutureTask and a
 * lambda, whose set-up costs the server's fresh JVM about 15 ms of its start.
 */
final class MountProbe implements Runnable {
    private static final long TIMEOUT_SECONDS = 60;

    private final Path mountPoint;
    private final Outcome<Object> inode = new Outcome<>();

    private MountProbe(Path mountPoint) {
        this.mountPoint = mountPoint;
    }

    @Override
    public void run() {
        try {
            inode.set(Files.getAttribute(mountPoint, "unix:ino", LinkOption.NOFOLLOW_LINKS), null);
        } catch (Exception e) {
            inode.set(null, e);
        }
    }

    static void awaitRoot(Path mountPoint) throws MountException {
        MountProbe probe = new MountProbe(mountPoint);
        Thread t = new Thread(probe, "kmodpack-probe");
        t.setDaemon(true);
        t.start();
        try {
            if (!probe.inode.await(TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS))) {
                throw new MountException(mountPoint + ": the mount did not answer within " + TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountException(mountPoint + ": interrupted while waiting for the mount");
        }
        if (probe.inode.failure() != null) {
            throw new MountException(mountPoint + ": the mount does not answer (" + probe.inode.failure().getMessage() + ")");
        }
        if (!Long.valueOf(1).equals(probe.inode.value())) {
            throw new MountException(mountPoint + ": the mount does not answer with the image's root (inode "
                    + probe.inode.value() + ")");
        }
    }
}

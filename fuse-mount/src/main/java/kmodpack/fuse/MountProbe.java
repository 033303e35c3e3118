package kmodpack.fuse;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Waits for a new mount to answer a stat with the image's root (inode 1), for both servers: the
 * mount is ready to report only then. The stat runs on a thread of its own, since a mount that
 * does not answer blocks it; a monitor and a named class rather than a FutureTask and a lambda,
 * whose set-up costs the server's fresh JVM about 15 ms of its start.
 */
final class MountProbe implements Runnable {
    private static final long TIMEOUT_SECONDS = 60;

    private final Path mountPoint;
    private boolean done;
    private Object inode;
    private Exception failure;

    private MountProbe(Path mountPoint) {
        this.mountPoint = mountPoint;
    }

    @Override
    public void run() {
        Object ino = null;
        Exception f = null;
        try {
            ino = Files.getAttribute(mountPoint, "unix:ino", LinkOption.NOFOLLOW_LINKS);
        } catch (Exception e) {
            f = e;
        }
        synchronized (this) {
            inode = ino;
            failure = f;
            done = true;
            notifyAll();
        }
    }

    static void awaitRoot(Path mountPoint) throws MountException {
        MountProbe probe = new MountProbe(mountPoint);
        Thread t = new Thread(probe, "kmodpack-probe");
        t.setDaemon(true);
        t.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
        synchronized (probe) {
            try {
                while (!probe.done) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new MountException(mountPoint + ": the mount did not answer within " + TIMEOUT_SECONDS + " s");
                    }
                    probe.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new MountException(mountPoint + ": interrupted while waiting for the mount");
            }
            if (probe.failure != null) {
                throw new MountException(mountPoint + ": the mount does not answer (" + probe.failure.getMessage() + ")");
            }
            if (!Long.valueOf(1).equals(probe.inode)) {
                throw new MountException(mountPoint + ": the mount does not answer with the image's root (inode " + probe.inode + ")");
            }
        }
    }
}

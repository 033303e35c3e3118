package kmodpack.packer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.time.Instant;

import com.sun.jna.Native;
import com.sun.jna.Structure;

/**
 * Sets a modification time with nanoseconds, on links too. JDK 17's setTimes rounds to
 * microseconds, so utimensat(2) is called through JNA; the JDK's own call is the fallback.
 */
final class FileTimes {
    private FileTimes() {
    }

    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    /** tv_nsec value that leaves a time unchanged. */
    private static final long UTIME_OMIT = (1L << 30) - 2;

    @Structure.FieldOrder({"tv_sec", "tv_nsec"})
    public static class Timespec extends Structure {
        public long tv_sec;
        public long tv_nsec;
    }

    private interface LibC extends com.sun.jna.Library {
        int utimensat(int dirfd, String path, Timespec[] times, int flags);
    }

    private static final LibC LIBC = load();

    private static LibC load() {
        try {
            return Native.load("c", LibC.class);
        } catch (Throwable t) {
            return null;
        }
    }

    static void setMtime(Path p, long seconds, int nanos) throws IOException {
        if (LIBC != null) {
            Timespec[] times = (Timespec[]) new Timespec().toArray(2);
            times[0].tv_sec = 0;
            times[0].tv_nsec = UTIME_OMIT;
            times[1].tv_sec = seconds;
            times[1].tv_nsec = nanos;
            if (LIBC.utimensat(AT_FDCWD, p.toString(), times, AT_SYMLINK_NOFOLLOW) == 0) {
                return;
            }
        }
        Files.getFileAttributeView(p, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setTimes(FileTime.from(Instant.ofEpochSecond(seconds, nanos)), null, null);
    }
}

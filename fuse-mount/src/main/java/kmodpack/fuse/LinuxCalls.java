package kmodpack.fuse;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * The libc calls the mount server makes itself, through JNA's direct mapping (JNA starts in a
 * few milliseconds, see {@code kmodpack.image.JnaStart}; jnr-ffi took ~440 ms to bind libfuse).
 * Strings go as NUL-terminated UTF-8 bytes, whatever the JVM's default charset. Sizes are
 * {@code long}: the 64-bit Linux targets (x86_64, aarch64) are LP64.
 */
final class LinuxCalls {
    static {
        kmodpack.image.JnaStart.prepare();
        Native.register(LinuxCalls.class, NativeLibrary.getInstance("c"));
    }

    static final int O_RDWR = 2;
    static final int O_CLOEXEC = 02000000;
    static final long MS_RDONLY = 1;
    static final long MS_NOSUID = 2;
    static final long MS_NODEV = 4;
    static final long MS_NOEXEC = 8;
    static final long MS_SYNCHRONOUS = 16;
    static final long MS_DIRSYNC = 128;
    static final long MS_NOATIME = 1024;
    static final long MS_NODIRATIME = 2048;
    static final long MS_RELATIME = 1 << 21;
    static final long MS_STRICTATIME = 1 << 24;
    static final int MNT_DETACH = 2;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int ENOENT = 2;
    static final int ENODEV = 19;

    private LinuxCalls() {
    }

    static native int open(byte[] path, int flags) throws LastErrorException;

    static native int close(int fd);

    static native int dup2(int from, int to);

    static native int setsid();

    static native int chdir(byte[] path);

    static native int getuid();

    static native int getgid();

    static native long read(int fd, Pointer buf, long count) throws LastErrorException;

    static native long write(int fd, Pointer buf, long count) throws LastErrorException;

    static native int mount(byte[] source, byte[] target, byte[] type, long flags, byte[] data) throws LastErrorException;

    static native int umount2(byte[] target, int flags) throws LastErrorException;

    static native Pointer strerror(int errno);

    /** The system's text for an error number ("Operation not permitted"). */
    static String message(int errno) {
        Pointer p = strerror(errno);
        return p == null ? "error " + errno : p.getString(0, "UTF-8");
    }

    /** A NUL-terminated copy of a string's UTF-8 bytes. */
    static byte[] cString(String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(b, b.length + 1);
    }

    /** syslog(3) is variadic, which direct mapping cannot call: an interface of its own. */
    interface SysLog extends Library {
        void openlog(Pointer ident, int option, int facility);

        void syslog(int priority, String format, Object... args);
    }

    static SysLog syslog() {
        return Native.load("c", SysLog.class);
    }
}

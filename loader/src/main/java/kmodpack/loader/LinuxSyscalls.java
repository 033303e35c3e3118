package kmodpack.loader;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLong;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;
import java.nio.charset.StandardCharsets;

/** The module system calls through libc's syscall(2), by number for x86_64 and aarch64. */
public final class LinuxSyscalls implements ModuleSyscalls {
    interface LibC extends Library {
        NativeLong syscall(NativeLong number, Object... args) throws LastErrorException;

        NativeLong write(int fd, Pointer buf, NativeLong count) throws LastErrorException;

        int close(int fd) throws LastErrorException;
    }

    record Numbers(long finitModule, long initModule, long deleteModule, long memfdCreate) {
        static Numbers of(String arch) {
            return switch (arch) {
                case "x86-64" -> new Numbers(313, 175, 176, 319);
                case "aarch64" -> new Numbers(273, 105, 106, 279);
                default -> throw new UnsupportedOperationException("module system calls are not known for " + arch);
            };
        }
    }

    private static final int MFD_CLOEXEC = 1;

    private final LibC libc;
    private final Numbers nr;

    public LinuxSyscalls() {
        this(loadLibC(), Numbers.of(Platform.ARCH));
    }

    private static LibC loadLibC() {
        kmodpack.image.JnaStart.prepare();
        return Native.load("c", LibC.class);
    }

    /** Over another libc: tests record what reaches syscall(2). */
    LinuxSyscalls(LibC libc, Numbers nr) {
        this.libc = libc;
        this.nr = nr;
    }

    /**
     * syscall(2) is variadic: every argument is passed as a full register, so ints go as
     * NativeLong (a Java int would leave the upper half of the register undefined), and
     * strings as NUL-terminated bytes in native memory.
     */
    private long call(long number, Object... args) {
        return libc.syscall(new NativeLong(number), args).longValue();
    }

    private static NativeLong word(long v) {
        return new NativeLong(v);
    }

    /**
     * A string the loader holds as ISO-8859-1 chars (one char a byte, as read from modprobe.d,
     * the kernel command line or the arguments), as the bytes it stands for, NUL-terminated:
     * not re-encoded, so option values reach the kernel byte for byte.
     */
    static Memory cString(String latin1) {
        byte[] b = latin1.getBytes(StandardCharsets.ISO_8859_1);
        Memory m = new Memory(b.length + 1);
        m.write(0, b, 0, b.length);
        m.setByte(b.length, (byte) 0);
        return m;
    }

    @Override
    public int loadModule(byte[] image, String params, int flags) {
        Memory buf = new Memory(Math.max(1, image.length));
        buf.write(0, image, 0, image.length);
        int fd = -1;
        try {
            fd = (int) call(nr.memfdCreate(), cString("kmodpack-module"), word(MFD_CLOEXEC));
        } catch (LastErrorException e) {
            if (e.getErrorCode() != Errno.ENOSYS && e.getErrorCode() != Errno.EINVAL) return e.getErrorCode();
        }
        try {
            if (fd >= 0) {
                long off = 0;
                while (off < image.length) {
                    long n = libc.write(fd, buf.share(off), new NativeLong(image.length - off)).longValue();
                    if (n <= 0) return Errno.EIO;
                    off += n;
                }
                try {
                    call(nr.finitModule(), word(fd), cString(params), word(flags));
                    return 0;
                } catch (LastErrorException e) {
                    if (e.getErrorCode() != Errno.ENOSYS) return e.getErrorCode();
                    // No finit_module (Linux < 3.8), or no module support at all: init_module says which.
                }
            }
            if ((flags & COMPRESSED_FILE) != 0) return Errno.EOPNOTSUPP;
            try {
                call(nr.initModule(), buf, word(image.length), cString(params));
                return 0;
            } catch (LastErrorException e) {
                return e.getErrorCode();
            }
        } catch (LastErrorException e) {
            return e.getErrorCode();
        } finally {
            if (fd >= 0) {
                try {
                    libc.close(fd);
                } catch (LastErrorException ignored) {
                    // nothing to do: the module is already loaded or failed
                }
            }
            buf.close();
        }
    }

    @Override
    public int deleteModule(String name, int flags) {
        try {
            call(nr.deleteModule(), cString(name), word(flags));
            return 0;
        } catch (LastErrorException e) {
            return e.getErrorCode();
        }
    }
}

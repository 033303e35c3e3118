import com.sun.jna.Library;
import com.sun.jna.Native;

/**
 * Guest smoke test of the runtime the initramfs recipe builds: the JVM starts, JNA's pre-unpacked
 * native library loads, and finit_module(2) reaches the kernel.
 *
 * Usage: JnaProbe MODULE.ko [PARAMS]. Prints "finit_module rc=R errno=E" and exits 0 on success.
 */
public final class JnaProbe {
    interface LibC extends Library {
        int open(String path, int flags);
        int close(int fd);
        long syscall(long number, Object... args);
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: JnaProbe MODULE.ko [PARAMS]");
            System.exit(2);
        }
        String arch = System.getProperty("os.arch");
        long nr = switch (arch) {
            case "amd64", "x86_64" -> 313;
            case "aarch64" -> 273;
            default -> throw new IllegalStateException("no finit_module number for " + arch);
        };
        LibC c = Native.load("c", LibC.class);
        int fd = c.open(args[0], 0x80000 /* O_RDONLY | O_CLOEXEC */);
        if (fd < 0) {
            System.out.println("open " + args[0] + " errno=" + Native.getLastError());
            System.exit(1);
        }
        long rc = c.syscall(nr, fd, args.length > 1 ? args[1] : "", 0);
        int errno = rc == 0 ? 0 : Native.getLastError();
        c.close(fd);
        System.out.println("finit_module rc=" + rc + " errno=" + errno);
        System.exit(rc == 0 ? 0 : 1);
    }
}

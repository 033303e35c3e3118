package kmodpack.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.NativeLong;
import com.sun.jna.Pointer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The real system calls, made harmlessly: a buffer that is not a module, and removal of a
 * module that does not exist. Whatever the kernel, neither can succeed; the answer shows the
 * call reached the kernel (ENOSYS on a kernel without module support, EPERM without the
 * capability, ENOEXEC/ENOENT otherwise).
 */
class LinuxSyscallsTest {
    /** What reached syscall(2): the number and the arguments as JNA would pass them. */
    record Syscall(long number, List<Object> args) {}

    /** A libc that records system calls and answers them as a kernel that loads anything would. */
    static final class RecordingLibC implements LinuxSyscalls.LibC {
        final List<Syscall> calls = new ArrayList<>();
        final List<byte[]> written = new ArrayList<>();

        @Override
        public NativeLong syscall(NativeLong number, Object... args) throws LastErrorException {
            calls.add(new Syscall(number.longValue(), Arrays.asList(args)));
            return new NativeLong(number.longValue() == 319 ? 7 : 0); // memfd_create gives fd 7
        }

        @Override
        public NativeLong write(int fd, Pointer buf, NativeLong count) {
            written.add(buf.getByteArray(0, count.intValue()));
            return count;
        }

        @Override
        public int close(int fd) {
            return 0;
        }
    }

    private static byte[] cString(Object arg) {
        Memory m = (Memory) arg;
        return m.getByteArray(0, (int) m.size());
    }

    @Test
    void optionsReachTheKernelAsTheirBytesAndIntsAsFullWords() {
        RecordingLibC libc = new RecordingLibC();
        LinuxSyscalls sys = new LinuxSyscalls(libc, LinuxSyscalls.Numbers.of("x86-64"));
        // modprobe.d said "opt=café" in UTF-8: the loader holds its bytes c3 a9 as two Latin-1 chars.
        String params = new String("opt=café x=\"a b\"".getBytes(java.nio.charset.StandardCharsets.UTF_8),
                java.nio.charset.StandardCharsets.ISO_8859_1);
        assertEquals(0, sys.loadModule(new byte[] {1, 2, 3}, params, ModuleSyscalls.IGNORE_VERMAGIC));
        assertEquals(0, sys.deleteModule("dummy", ModuleSyscalls.O_NONBLOCK));

        assertEquals(List.of(319L, 313L, 176L), libc.calls.stream().map(Syscall::number).toList());
        Syscall finit = libc.calls.get(1);
        assertEquals(new NativeLong(7), finit.args().get(0));
        assertArrayEquals("opt=caf\u00c3\u00a9 x=\"a b\"\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
                cString(finit.args().get(1)), "the option bytes, not re-encoded");
        assertEquals(new NativeLong(ModuleSyscalls.IGNORE_VERMAGIC), finit.args().get(2));
        assertArrayEquals(new byte[] {1, 2, 3}, libc.written.get(0));
        assertArrayEquals("dummy\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), cString(libc.calls.get(2).args().get(0)));
        assertEquals(new NativeLong(ModuleSyscalls.O_NONBLOCK), libc.calls.get(2).args().get(1));
        for (Syscall c : libc.calls) {
            for (Object a : c.args()) {
                assertTrue(a instanceof NativeLong || a instanceof Pointer, "syscall " + c.number() + " got a " + a.getClass().getSimpleName());
            }
        }
    }

    @Test
    void theKernelAnswers() {
        LinuxSyscalls sys = new LinuxSyscalls();
        int load = sys.loadModule("not an ELF module".getBytes(), "", 0);
        assertTrue(Set.of(Errno.ENOSYS, Errno.EPERM, Errno.ENOEXEC, Errno.EINVAL).contains(load), "load: " + load);
        int del = sys.deleteModule("kmodpack_no_such_module", ModuleSyscalls.O_NONBLOCK);
        assertTrue(Set.of(Errno.ENOSYS, Errno.EPERM, Errno.ENOENT).contains(del), "delete: " + del);
    }
}

package kmodpack.loader;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The real system calls, made harmlessly: a buffer that is not a module, and removal of a
 * module that does not exist. Whatever the kernel, neither can succeed; the answer shows the
 * call reached the kernel (ENOSYS on a kernel without module support, EPERM without the
 * capability, ENOEXEC/ENOENT otherwise).
 */
class LinuxSyscallsTest {
    @Test
    void theKernelAnswers() {
        LinuxSyscalls sys = new LinuxSyscalls();
        int load = sys.loadModule("not an ELF module".getBytes(), "", 0);
        assertTrue(Set.of(Errno.ENOSYS, Errno.EPERM, Errno.ENOEXEC, Errno.EINVAL).contains(load), "load: " + load);
        int del = sys.deleteModule("kmodpack_no_such_module", ModuleSyscalls.O_NONBLOCK);
        assertTrue(Set.of(Errno.ENOSYS, Errno.EPERM, Errno.ENOENT).contains(del), "delete: " + del);
    }
}

package kmodpack.loader;

/** The Linux errno values the loader meets (the same numbers on x86_64 and aarch64). */
public final class Errno {
    private Errno() {}

    public static final int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, ENOEXEC = 8, EBADF = 9, EAGAIN = 11,
            ENOMEM = 12, EFAULT = 14, EBUSY = 16, EEXIST = 17, ENODEV = 19, EINVAL = 22, ETXTBSY = 26,
            EFBIG = 27, ENOSPC = 28, ENOSYS = 38, ELOOP = 40, EBADMSG = 74, EOPNOTSUPP = 95, EKEYREJECTED = 129;

    /** glibc's strerror text, for messages that modprobe prints with %m. */
    public static String strerror(int errno) {
        return switch (errno) {
            case 0 -> "Success";
            case EPERM -> "Operation not permitted";
            case ENOENT -> "No such file or directory";
            case EINTR -> "Interrupted system call";
            case EIO -> "Input/output error";
            case ENOEXEC -> "Exec format error";
            case EBADF -> "Bad file descriptor";
            case EAGAIN -> "Resource temporarily unavailable";
            case ENOMEM -> "Cannot allocate memory";
            case EFAULT -> "Bad address";
            case EBUSY -> "Device or resource busy";
            case EEXIST -> "File exists";
            case ENODEV -> "No such device";
            case EINVAL -> "Invalid argument";
            case ETXTBSY -> "Text file busy";
            case EFBIG -> "File too large";
            case ENOSPC -> "No space left on device";
            case ENOSYS -> "Function not implemented";
            case ELOOP -> "Too many levels of symbolic links";
            case EBADMSG -> "Bad message";
            case EOPNOTSUPP -> "Operation not supported";
            case EKEYREJECTED -> "Key was rejected by service";
            default -> "Unknown error " + errno;
        };
    }

    /** What a failed load means, in the words modprobe and insmod use. */
    public static String insertError(int errno) {
        return switch (errno) {
            case EEXIST -> "Module already in kernel";
            case ENOENT -> "Unknown symbol in module, or unknown parameter (see dmesg)";
            case ENOEXEC -> "Invalid module format";
            case EKEYREJECTED -> "Key was rejected by service (the kernel accepts only modules signed with a key it trusts)";
            case EPERM -> "Operation not permitted (loading modules needs CAP_SYS_MODULE, or module loading is disabled)";
            case ENOSYS -> "the running kernel has no module support (Function not implemented)";
            default -> strerror(errno);
        };
    }
}

package kmodpack.loader;

/**
 * The three system calls the loader makes. Each returns 0 on success or a positive errno.
 * {@link LinuxSyscalls} makes them through JNA; tests use a recording fake.
 */
public interface ModuleSyscalls {
    /** MODULE_INIT_IGNORE_MODVERSIONS, MODULE_INIT_IGNORE_VERMAGIC, MODULE_INIT_COMPRESSED_FILE. */
    int IGNORE_MODVERSIONS = 1, IGNORE_VERMAGIC = 2, COMPRESSED_FILE = 4;
    /** delete_module flags. */
    int O_NONBLOCK = 04000, O_TRUNC = 01000;

    /**
     * Hands a module to the kernel: finit_module on an in-memory file (memfd) holding
     * {@code image}, or init_module with the buffer where memfd or finit_module are missing.
     * {@code params} holds bytes as ISO-8859-1 chars (one char a byte); the kernel gets those bytes.
     */
    int loadModule(byte[] image, String params, int flags);

    int deleteModule(String name, int flags);
}

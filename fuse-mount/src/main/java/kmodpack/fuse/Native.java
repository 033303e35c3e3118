package kmodpack.fuse;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.Struct;

/**
 * The libfuse server's native calls (the server for processes that cannot mount by themselves):
 * libfuse 2's mount / loop / unmount steps (so the server controls readiness, threads and
 * signals instead of fuse_main), and the libc calls that capture libfuse's messages.
 */
final class Native {
    private Native() {
    }

    /** libfuse 2 (2.6+ API), the calls fuse_main makes, taken one by one. */
    public interface LibFuse {
        /** struct fuse_chan *fuse_mount(const char *mountpoint, struct fuse_args *args) */
        Pointer fuse_mount(byte[] mountpoint, FuseArgs args);

        int fuse_loop(Pointer fuse);

        int fuse_loop_mt(Pointer fuse);

        void fuse_exit(Pointer fuse);

        void fuse_unmount(byte[] mountpoint, Pointer channel);

        void fuse_destroy(Pointer fuse);

        void fuse_opt_free_args(FuseArgs args);
    }

    /** dlopen/dlvsym: a symbol of a chosen version. */
    public interface LibDl {
        Pointer dlopen(String file, int mode);

        Pointer dlvsym(Pointer handle, String symbol, String version);
    }

    private static volatile com.kenai.jffi.Function fuseNew;

    /**
     * struct fuse *fuse_new(struct fuse_chan *, struct fuse_args *, const struct fuse_operations *,
     * size_t, void *), version FUSE_2.6. A plain dlsym("fuse_new") finds an old compatibility
     * entry (fuse_new_compat2: fd and option string), so the symbol is looked up by version.
     */
    static long fuseNew(long channel, long args, long ops, long opsSize) {
        com.kenai.jffi.Function f = fuseNew;
        if (f == null) {
            synchronized (Native.class) {
                if (fuseNew == null) {
                    fuse();
                    LibDl dl = LibraryLoader.create(LibDl.class).failImmediately().load("dl");
                    Pointer h = dl.dlopen("libfuse.so.2", 2 /* RTLD_NOW */);
                    Pointer sym = h == null ? null : dl.dlvsym(h, "fuse_new", "FUSE_2.6");
                    if (sym == null) {
                        throw new UnsatisfiedLinkError("libfuse.so.2 has no fuse_new@FUSE_2.6");
                    }
                    com.kenai.jffi.Type p = com.kenai.jffi.Type.POINTER;
                    fuseNew = new com.kenai.jffi.Function(sym.address(), p, p, p, p, com.kenai.jffi.Type.UINT64, p);
                }
                f = fuseNew;
            }
        }
        return com.kenai.jffi.Invoker.getInstance().invokeN5(f.getCallContext(), f.getFunctionAddress(), channel, args, ops, opsSize, 0L);
    }

    /** struct fuse_args { int argc; char **argv; int allocated; } */
    public static final class FuseArgs extends Struct {
        public final Signed32 argc = new Signed32();
        public final Pointer argv = new Pointer();
        public final Signed32 allocated = new Signed32();

        FuseArgs(Runtime runtime) {
            super(runtime);
        }
    }

    /** The calls that capture libfuse's stderr (see FuseServer). */
    public interface LibC {
        int open(String path, int flags);

        int dup(int fd);

        int dup2(int from, int to);

        int close(int fd);
    }

    private static volatile LibFuse fuse;
    private static volatile LibC libc;

    static LibFuse fuse() {
        LibFuse f = fuse;
        if (f == null) {
            synchronized (Native.class) {
                if (fuse == null) {
                    try {
                        fuse = LibraryLoader.create(LibFuse.class).failImmediately().load("fuse");
                    } catch (UnsatisfiedLinkError | RuntimeException e) {
                        fuse = LibraryLoader.create(LibFuse.class).failImmediately().load("libfuse.so.2");
                    }
                }
                f = fuse;
            }
        }
        return f;
    }

    static LibC libc() {
        LibC c = libc;
        if (c == null) {
            synchronized (Native.class) {
                if (libc == null) {
                    libc = LibraryLoader.create(LibC.class).failImmediately().load("c");
                }
                c = libc;
            }
        }
        return c;
    }

    static Runtime runtime() {
        return Runtime.getSystemRuntime();
    }

    /** The error number the last native call left (for calls declared to save it). */
    static int errno() {
        return runtime().getLastError();
    }

    /** A NUL-terminated copy of a string's UTF-8 bytes, whatever the JVM's default charset. */
    static byte[] cString(String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return java.util.Arrays.copyOf(b, b.length + 1);
    }
}

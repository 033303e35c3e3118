package kmodpack.loader;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Supplier;

import kmodpack.image.Outcome;

/**
 * Sets up one modprobe run: finds the image, reads the configuration, and runs {@link Modprobe}.
 * The command line only parses arguments and calls {@link #run}.
 */
public final class ModprobeRun {
    /** Where the modules come from and how paths are printed. */
    public static final class Source {
        /** -d: the root directory; null for "/". */
        public String root;
        /** -S: the kernel version; null for the running kernel's. */
        public String version;
        /** --image: the image file (a directory is refused); null for ROOT/boot/modules-VER. */
        public String image;
        /** -C: configuration files or directories; null for the default directories. */
        public List<String> configPaths;
    }

    /** Opens a packed image file as a module tree; supplied by whoever knows the image format. */
    public interface ImageOpener {
        ModuleTree open(Path file) throws IOException;

        /** The kernel version recorded in the image, or null. */
        default String versionOf(ModuleTree tree) {
            return null;
        }
    }

    private ModprobeRun() {}

    /** Thrown for a problem with the input (no image, a damaged one): one line for stderr. */
    public static final class SetupException extends Exception {
        public SetupException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static String absolute(String p) {
        if (p.startsWith("/")) return p;
        String cwd = System.getProperty("user.dir");
        return cwd.endsWith("/") ? cwd + p : cwd + "/" + p;
    }

    /**
     * Runs modprobe; returns the exit status. What -D, -n and -v show goes to {@code out};
     * messages go to {@code messages}, which the command prints as it likes.
     *
     * @param syscalls made only by a run that may load or remove modules (not -D, -n, -R), from its start on a
     *                 thread of their own
     */
    public static int run(Modprobe.Options opt, List<String> args, Source src, Host host, ImageOpener opener,
                          Supplier<ModuleSyscalls> syscalls, OutputStream out, Log.Sink messages)
            throws SetupException {
        Log log = new Log(messages);
        // A run that may load or remove modules starts JNA (tens of ms) on the second core while
        // this one opens the image, reads the configuration and resolves; -D, -n and -R never
        // touch it.
        boolean callsKernel = !opt.dryRun && !opt.showDepends && !opt.resolveAlias;
        ModuleSyscalls calls = lazy(syscalls, callsKernel);
        String uname = System.getProperty("os.version");
        String version = src.version;
        ModuleTree tree;
        Path imagePath;
        if (src.image != null) {
            imagePath = Path.of(src.image);
        } else {
            String v = version != null ? version : uname;
            imagePath = host.path((src.root == null ? "" : src.root) + "/boot/modules-" + v);
        }
        String where;
        try {
            if (Files.isDirectory(imagePath)) {
                // A directory's files carry no checksums: the kernel gets only verified bytes.
                throw new SetupException(imagePath + " is a directory, not a module image (modules are loaded only from"
                        + " checksummed images: pack the tree with kmodpack build)", null);
            } else if (Files.exists(imagePath)) {
                tree = opener.open(imagePath);
                // Every run looks names up in modules.dep.bin; most also meet an alias or a softdep.
                if (tree instanceof ImageModuleTree it) {
                    it.prefetch("modules.dep.bin", "modules.alias.bin");
                    if (callsKernel && !opt.remove) it.decodeNativelySoon();
                }
                where = "image " + imagePath;
                if (version == null && src.image != null) version = opener.versionOf(tree);
            } else {
                throw new SetupException("no module image at " + imagePath
                        + (src.image == null ? " (give --image FILE, or -d ROOT / -S VERSION)" : ""), null);
            }
        } catch (IOException e) {
            throw new SetupException("cannot open " + imagePath + ": " + e.getMessage(), e);
        }
        // Paths are printed as modprobe prints them for the same -d and -S.
        String dirname;
        if (src.root != null || version != null) {
            dirname = absolute((src.root == null ? "" : src.root) + "/lib/modules/" + (version != null ? version : uname));
        } else {
            dirname = "/lib/modules/" + uname;
        }
        try (ModuleTree t = tree) {
            ModprobeConfig config = ModprobeConfig.load(host, src.configPaths, t, dirname, log);
            Kmod kmod = new Kmod(t, dirname, config, log);
            Kernel kernel = new Kernel(host, calls);
            return new Modprobe(kmod, kernel, log, out, opt, where).run(args);
        } catch (UncheckedIOException e) {
            throw new SetupException(e.getCause().getMessage(), e.getCause());
        } catch (IndexFile.IndexCorrupt e) {
            throw new SetupException(e.getMessage(), e);
        } catch (IOException e) {
            throw new SetupException(e.getMessage(), e);
        }
    }

    /**
     * The system calls, made by {@code supplier} when first needed, or from now on a thread of
     * their own when {@code early}. Either way a failure to make them surfaces at the first call,
     * as the same exception.
     */
    private static ModuleSyscalls lazy(Supplier<ModuleSyscalls> supplier, boolean early) {
        // An Outcome rather than a FutureTask: its VarHandles cost a fresh JVM about 6 ms, which
        // -D and -n, which never make these calls, would pay too.
        final class Made implements Runnable {
            private boolean started;
            private final Outcome<ModuleSyscalls> made = new Outcome<>();

            @Override
            public void run() {
                synchronized (this) {
                    if (started) return;
                    started = true;
                }
                try {
                    made.set(supplier.get(), null);
                } catch (RuntimeException | Error e) {
                    made.set(null, e);
                }
            }

            ModuleSyscalls get() throws InterruptedException {
                made.await();
                if (made.failure() instanceof RuntimeException r) throw r;
                if (made.failure() instanceof Error err) throw err;
                return made.value();
            }
        }
        Made made = new Made();
        if (early) {
            Thread t = new Thread(made, "system calls");
            t.setDaemon(true);
            t.start();
        }
        return new ModuleSyscalls() {
            private ModuleSyscalls get() {
                made.run(); // does nothing once started elsewhere
                try {
                    return made.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while loading the system call library", e);
                }
            }

            @Override
            public int loadModule(byte[] image, String params, int flags) {
                return get().loadModule(image, params, flags);
            }

            @Override
            public int deleteModule(String name, int flags) {
                return get().deleteModule(name, flags);
            }
        };
    }

}

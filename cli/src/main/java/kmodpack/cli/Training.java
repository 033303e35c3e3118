package kmodpack.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import kmodpack.depmod.IndexWriter;

/**
 * The workload a class-data archive is trained on (bin/kmodpack runs it in the background when
 * its archive is missing): the short commands whose start-up matters — {@code --version},
 * {@code info}, {@code ls}, {@code cat}, {@code modprobe -D}, and a {@code modprobe} up to its first
 * module system call (refused here, so nothing reaches the kernel) — over a small image packed here
 * from a made-up module tree, so that the classes and code they run are in the archive. Their output
 * is discarded; the {@code modprobe -D} answer is checked, and a wrong one fails the training (the
 * archive is then not kept).
 *
 * <pre>java -cp kmodpack.jar kmodpack.cli.Training WORK_DIR [JNA_DIR]</pre>
 *
 * With JNA_DIR, JNA's native stub is copied there first (see {@link #copyJnaStub}).
 */
public final class Training {
    private static final String VERSION = "0.0.0-training";

    private Training() {
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args[0]).toAbsolutePath();
        if (args.length > 1) {
            copyJnaStub(Path.of(args[1]));
        }
        Path tree = work.resolve("lib/modules/" + VERSION);
        Path fs = tree.resolve("kernel/fs/training");
        Files.createDirectories(fs);
        Path config = Files.createDirectories(work.resolve("modprobe.d"));
        String a = "kernel/fs/training/training_a.ko";
        String b = "kernel/fs/training/training_b.ko";
        // Module bytes that compress like code does, a block and a half of them.
        byte[] code = new byte[96 << 10];
        for (int i = 0; i < code.length; i++) {
            code[i] = (byte) ((i * 31 + (i >> 7)) & 0x3f);
        }
        Files.write(tree.resolve(a), code);
        Files.write(tree.resolve(b), code);
        Files.writeString(tree.resolve("modules.dep"), a + ": " + b + "\n" + b + ":\n");
        Files.write(tree.resolve("modules.dep.bin"), index(Map.of("training_a", a + ": " + b, "training_b", b + ":")));
        Files.write(tree.resolve("modules.alias.bin"), index(Map.of("fs_training*", "training_a")));
        Files.write(tree.resolve("modules.symbols.bin"), index(Map.of("symbol:training_symbol", "training_b")));
        Files.write(tree.resolve("modules.builtin.bin"), index(Map.of("training_builtin", "")));
        Files.write(tree.resolve("modules.builtin.alias.bin"), index(Map.of("training-builtin-alias", "training_builtin")));
        // Not empty, as no real tree's is: modprobe reads it whole, a path of its own.
        Files.writeString(tree.resolve("modules.softdep"), "# Soft dependencies extracted from modules themselves.\n"
                + "softdep training_unused pre: training_b\n");
        Files.writeString(config.resolve("training.conf"), "options training_b verbose=1\nalias training-alias training_a\n");
        Path image = work.resolve("boot/modules-" + VERSION);
        Files.createDirectories(image.getParent());

        javaLzma2(code);

        PrintStream stdout = System.out;
        PrintStream nul = new PrintStream(OutputStream.nullOutputStream(), true, StandardCharsets.UTF_8);
        System.setOut(nul);
        System.setErr(nul);
        int failed = 0;
        failed += Main.run("build", "-b", work.toString(), "--block-size", "64K", VERSION);
        failed += Main.run("--version");
        failed += Main.run("info", image.toString());
        failed += Main.run("ls", "-l", "-R", image.toString());
        failed += Main.run("cat", image.toString(), a);
        failed += Main.run("verify", image.toString());
        failed += Main.run("info", "--help");
        Main.run("info", work.resolve("no-such-image").toString());
        ByteArrayOutputStream shown = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(shown, true, StandardCharsets.ISO_8859_1);
        List<String> modprobe = List.of("-d", work.toString(), "-S", VERSION, "-C", config.toString());
        for (String name : List.of("fs-training-x", "training-alias", "symbol:training_symbol", "training_a")) {
            List<String> argv = new ArrayList<>(modprobe);
            argv.addAll(List.of("-D", name));
            failed += ModprobeCommand.run(argv, out, nul);
        }
        ModprobeCommand.run(List.of("-d", work.toString(), "-S", VERSION, "-D", "training_missing"), nul, nul);
        int[] loads = new int[1];
        loadingPath(work, modprobe, nul, loads);
        try {
            // The binding of the module system calls (libc through JNA), without calling them.
            new kmodpack.loader.LinuxSyscalls();
        } catch (RuntimeException | LinkageError e) {
            // Not a platform the loader knows: the archive only lacks these classes.
        }
        try {
            kmodpack.fuse.Mounter.rehearse(image);
        } catch (IOException | RuntimeException | LinkageError e) {
            // No JNA here: the archive only lacks the mount's classes.
        }
        System.setOut(stdout);
        String dir = work + "/lib/modules/" + VERSION + "/";
        String both = "insmod " + dir + b + " verbose=1 \ninsmod " + dir + a + " \n";
        String expected = both + both + "insmod " + dir + b + " verbose=1 \n" + both;
        if (failed != 0 || !shown.toString(StandardCharsets.ISO_8859_1).equals(expected) || loads[0] != 1) {
            System.err.println("training: unexpected results; the archive is not kept");
            System.exit(1);
        }
        // The mount's rehearsal leaves read-ahead threads behind.
        System.exit(0);
    }

    /**
     * A real {@code modprobe training_a} up to its first module system call: reading and checking
     * the closure's module files, the host's /sys/module and /proc/cmdline (a made-up host root
     * where nothing is loaded). The system calls here refuse as a kernel without module support
     * does (ENOSYS), so nothing reaches this machine's kernel; {@code loads} counts the calls.
     */
    private static void loadingPath(Path work, List<String> modprobe, PrintStream nul, int[] loads) throws IOException {
        Path host = work.resolve("host");
        Files.createDirectories(host.resolve("sys/module"));
        Files.createDirectories(host.resolve("proc"));
        Files.write(host.resolve("proc/cmdline"), new byte[0]);
        List<String> argv = new ArrayList<>(List.of("--host-root", host.toString(),
                "--image", work.resolve("boot/modules-" + VERSION).toString()));
        argv.addAll(modprobe);
        argv.add("training_a");
        ModprobeCommand.run(argv, nul, nul, new java.util.function.Supplier<kmodpack.loader.ModuleSyscalls>() {
            @Override
            public kmodpack.loader.ModuleSyscalls get() {
                return new kmodpack.loader.ModuleSyscalls() {
                    @Override
                    public int loadModule(byte[] image, String params, int flags) {
                        loads[0]++;
                        return 38; // ENOSYS
                    }

                    @Override
                    public int deleteModule(String name, int flags) {
                        return 38;
                    }
                };
            }
        });
    }

    /**
     * Copies JNA's native stub for this platform out of the jar into {@code dir}, where
     * bin/kmodpack points JNA ({@code jna.boot.library.path}) so that it does not unpack the
     * stub to a temporary file at every start. Nothing is written where the jar has none.
     */
    private static void copyJnaStub(Path dir) throws IOException {
        String name = "com/sun/jna/" + com.sun.jna.Platform.RESOURCE_PREFIX + "/" + System.mapLibraryName("jnidispatch");
        try (var in = Training.class.getClassLoader().getResourceAsStream(name)) {
            if (in != null) {
                Files.createDirectories(dir);
                Files.copy(in, dir.resolve(System.mapLibraryName("jnidispatch")));
            }
        }
    }

    /**
     * A round trip through the Java LZMA2 decoder. The short commands decode the image's index
     * with it (liblzma is not loaded for that), but the packing above loads liblzma, after which
     * every block here decodes natively: without this its classes would miss the archive.
     */
    private static void javaLzma2(byte[] data) throws IOException {
        ByteArrayOutputStream packed = new ByteArrayOutputStream();
        org.tukaani.xz.LZMA2Options options = new org.tukaani.xz.LZMA2Options(1);
        try (var out = options.getOutputStream(new org.tukaani.xz.FinishableWrapperOutputStream(packed))) {
            out.write(data);
        }
        byte[] back;
        try (var in = new org.tukaani.xz.LZMA2InputStream(new java.io.ByteArrayInputStream(packed.toByteArray()),
                options.getDictSize())) {
            back = in.readAllBytes();
        }
        if (!java.util.Arrays.equals(back, data)) {
            throw new IOException("training: the Java LZMA2 decoder did not give the data back");
        }
    }

    /** An index in kmod's binary format with these keys and values, as depmod writes one. */
    private static byte[] index(Map<String, String> entries) {
        IndexWriter w = new IndexWriter();
        for (Map.Entry<String, String> e : new TreeMap<>(entries).entrySet()) {
            w.insert(e.getKey(), e.getValue(), 0);
        }
        return w.toByteArray();
    }
}

package kmodpack.cli;

import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import java.nio.file.Path;
import kmodpack.loader.Host;
import kmodpack.loader.ImageModuleTree;
import kmodpack.loader.ModuleTree;
import kmodpack.loader.LinuxSyscalls;
import kmodpack.loader.Log;
import kmodpack.loader.ModprobeRun;
import kmodpack.loader.ModuleSyscalls;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Unmatched;

/**
 * {@code kmodpack modprobe}: modprobe's front end over a packed image — arguments (parsed by
 * {@link ModprobeArgs} with modprobe's getopt rules; picocli only hands them over), usage text,
 * messages and exit statuses. The loader library does the rest and only reports back.
 */
@Command(name = "modprobe", description = "Load or remove kernel modules from an image, as modprobe does.")
public final class ModprobeCommand implements Callable<Integer> {
    @Unmatched
    List<String> argv = new ArrayList<>();

    /** Packed images are opened with the image reader; the kernel version comes from the image. */
    static final ModprobeRun.ImageOpener OPENER = new ModprobeRun.ImageOpener() {
        @Override
        public ModuleTree open(Path file) throws IOException {
            return ImageModuleTree.open(file);
        }

        @Override
        public String versionOf(ModuleTree tree) {
            return ((ImageModuleTree) tree).kernelVersion();
        }
    };

    @Override
    public Integer call() {
        return run(argv);
    }

    /** Runs modprobe with these arguments on the process's standard output and error; returns the exit status. */
    public static int run(List<String> argv) {
        PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false,
                StandardCharsets.ISO_8859_1);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.ISO_8859_1);
        return run(argv, out, err);
    }

    /** The kernel's module system calls, through JNA, made when first needed. */
    private static final Supplier<ModuleSyscalls> LINUX = new Supplier<ModuleSyscalls>() {
        @Override
        public ModuleSyscalls get() {
            return new LinuxSyscalls();
        }
    };

    /** Runs modprobe with these arguments; returns the exit status. */
    static int run(List<String> argv, PrintStream out, PrintStream err) {
        return run(argv, out, err, LINUX);
    }

    /** The same with other system calls (the training run's, which never reach a kernel). */
    static int run(List<String> argv, PrintStream out, PrintStream err, Supplier<ModuleSyscalls> syscalls) {
        ModprobeArgs a;
        try {
            a = ModprobeArgs.parse(argv);
        } catch (ModprobeArgs.UsageException e) {
            err.println("modprobe: " + e.getMessage() + " (see --help)");
            return 1;
        }
        // Names and PARAM=VALUE arguments are held as bytes, one ISO-8859-1 char each, like the
        // configuration text: back to the bytes the JVM decoded them from.
        // (Loops and named classes rather than lambdas on this path: the first lambda of a run
        // costs a fresh JVM about 10 ms of method-handle set-up.)
        for (int i = 0; i < a.args.size(); i++) {
            a.args.set(i, asBytes(a.args.get(i)));
        }
        if (a.help) {
            out.print(ModprobeArgs.USAGE);
            out.flush();
            return 0;
        }
        Host host = a.hostRoot == null ? Host.real() : Host.under(a.hostRoot);
        try {
            return ModprobeRun.run(a.options, a.args, a.source, host, OPENER, syscalls, out, new Messages(err));
        } catch (ModprobeRun.SetupException e) {
            err.println("modprobe: FATAL: " + e.getMessage());
            if (a.debug) e.printStackTrace(err);
            return 1;
        } catch (RuntimeException e) {
            err.println("modprobe: FATAL: " + e);
            if (a.debug) e.printStackTrace(err);
            return 1;
        } catch (Error e) {
            err.println("modprobe: FATAL: " + Main.describe(e));
            if (a.debug) e.printStackTrace(err);
            return 1;
        } finally {
            out.flush();
        }
    }

    /** The loader's messages as modprobe prints them: {@code modprobe: LEVEL: text}. */
    private static final class Messages implements Log.Sink {
        private final PrintStream err;

        Messages(PrintStream err) {
            this.err = err;
        }

        @Override
        public void message(int priority, String text) {
            err.print("modprobe: " + Log.levelName(priority) + ": " + text + "\n");
            err.flush();
        }
    }

    private static final java.nio.charset.Charset ARGV_CHARSET = argvCharset();

    private static java.nio.charset.Charset argvCharset() {
        try {
            return java.nio.charset.Charset.forName(System.getProperty("sun.jnu.encoding", "UTF-8"));
        } catch (RuntimeException e) {
            return StandardCharsets.UTF_8;
        }
    }

    static String asBytes(String arg) {
        return new String(arg.getBytes(ARGV_CHARSET), StandardCharsets.ISO_8859_1);
    }

    /**
     * Adds modprobe's options, as its own parser knows them, to its picocli model, so that the man
     * page and shell completion describe them. Only documentation uses this: at run time picocli
     * hands every argument over unparsed.
     */
    static void describeOptions(CommandSpec spec) {
        spec.usageMessage().customSynopsis(ModprobeArgs.SYNOPSIS.toArray(String[]::new));
        spec.usageMessage().description(ModprobeArgs.SUMMARY.replace('\n', ' '));
        Map<String, ArgGroupSpec.Builder> groups = new LinkedHashMap<>();
        for (ModprobeArgs.OptionHelp o : ModprobeArgs.documentedOptions()) {
            if (o.names().stream().anyMatch(n -> spec.findOption(n) != null)) {
                continue; // inherited from kmodpack (--debug)
            }
            OptionSpec.Builder b = OptionSpec.builder(o.names().toArray(String[]::new)).description(o.description());
            if (o.label() == null) {
                b.arity("0").type(boolean.class);
            } else {
                b.arity("1").type(String.class).paramLabel(o.label());
            }
            groups.computeIfAbsent(o.heading(), h -> ArgGroupSpec.builder().heading(h + ":%n").exclusive(false).validate(false))
                    .addArg(b.build());
        }
        groups.values().forEach(g -> spec.addArgGroup(g.build()));
        spec.addPositional(PositionalParamSpec.builder().paramLabel("NAME").arity("0..*").type(String.class)
                .description("Module name, alias or symbol:NAME, then PARAM=VALUE parameters for it "
                        + "(with -a or -r: more names).").build());
    }

    /** The command on its own, without picocli or the other subcommands: the quickest start. */
    public static void main(String[] argv) {
        System.exit(run(Arrays.asList(argv)));
    }
}

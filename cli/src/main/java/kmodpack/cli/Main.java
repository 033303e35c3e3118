package kmodpack.cli;

import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The kmodpack command line: one thin command per verb over the packer, loader and mount libraries. */
@Command(name = "kmodpack", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Pack a kernel's module tree into one image file, and use that file directly.",
        subcommands = {
            BuildCommand.class,
            DepmodCommand.class,
            LsCommand.class,
            CatCommand.class,
            ExtractCommand.class,
            VerifyCommand.class,
            InfoCommand.class,
            ModprobeCommand.class,
            MountCommand.class,
            UmountCommand.class,
        })
public final class Main implements Runnable {
    /** Shows the stack trace of an error (it is one line otherwise). Every subcommand takes it. */
    static boolean debug;

    @Option(names = "--debug", description = "Show the stack trace of an error.", scope = CommandLine.ScopeType.INHERIT)
    void setDebug(boolean on) {
        debug = on;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is needed (see kmodpack --help)");
    }

    public static void main(String[] args) {
        // modprobe parses its own arguments with getopt's rules; building the picocli model of
        // every command first would double its start-up time, which boot paths pay.
        if (args.length > 0 && args[0].equals("modprobe")) {
            System.exit(ModprobeCommand.run(java.util.Arrays.asList(args).subList(1, args.length)));
        }
        int code;
        try {
            code = run(args);
        } catch (Throwable t) {
            // picocli hands Errors (OutOfMemoryError, StackOverflowError...) straight through:
            // they get the same one line as any other failure.
            code = fail(t);
        }
        System.exit(code);
    }

    /** Reports an error that escaped the command as one line (and its stack trace with --debug). */
    static int fail(Throwable t) {
        System.err.println("kmodpack: " + describe(t));
        if (debug) {
            t.printStackTrace();
        }
        System.err.flush();
        return 1;
    }

    /**
     * The command line as the man pages and shell completion describe it: the model {@code --help}
     * prints, with modprobe's options (parsed by modprobe's own parser) added from its table.
     */
    static CommandLine documentedModel() {
        CommandLine cl = new CommandLine(new Main());
        ModprobeCommand.describeOptions(cl.getSubcommands().get("modprobe").getCommandSpec());
        return cl;
    }

    /** Runs the command line and returns its exit code; never throws. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        // Usage errors (unknown option, bad value, missing argument): one line, exit 2.
        cl.setParameterExceptionHandler((ex, given) -> {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter err = cmd.getErr();
            err.println("kmodpack: " + ex.getMessage().replace('\n', ' ') + " (see '"
                    + cmd.getCommandSpec().qualifiedName() + " --help')");
            if (debug) {
                ex.printStackTrace(err);
            }
            err.flush();
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        });
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            PrintWriter err = cmd.getErr();
            err.println("kmodpack: " + describe(ex));
            if (debug) {
                ex.printStackTrace(err);
            }
            err.flush();
            return ex instanceof ExitException e ? e.code : 1;
        });
        return cl.execute(args);
    }

    /** One line that says what went wrong, for errors from the JDK as well as our own. */
    static String describe(Throwable ex) {
        if (ex instanceof NoSuchFileException e) {
            return e.getFile() + ": no such file or directory";
        }
        if (ex instanceof AccessDeniedException e) {
            return e.getFile() + ": permission denied";
        }
        if (ex instanceof FileAlreadyExistsException e) {
            return e.getFile() + ": already exists";
        }
        if (ex instanceof NotDirectoryException e) {
            return e.getFile() + ": not a directory";
        }
        if (ex instanceof FileSystemException e && e.getReason() != null) {
            return e.getFile() + ": " + e.getReason();
        }
        if (ex instanceof OutOfMemoryError) {
            return "out of memory (raise the Java heap with JAVA_OPTS=-Xmx...)";
        }
        if (ex instanceof StackOverflowError) {
            return "internal error: stack overflow (run with --debug for details)";
        }
        String m = ex.getMessage();
        return m == null || m.isBlank() ? ex.toString() : m.replace('\n', ' ');
    }

    /** An error that carries its own exit code (e.g. verify's "damaged"). */
    static final class ExitException extends RuntimeException {
        final int code;

        ExitException(int code, String message) {
            super(message);
            this.code = code;
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"kmodpack " + (v == null ? "(development build)" : v)
                    + ", image format " + kmodpack.image.ImageFormat.MAJOR + "." + kmodpack.image.ImageFormat.MINOR};
        }
    }
}

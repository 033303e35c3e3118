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
        description = "Pack a kernel's module tree into one image file, and use that file directly.")
public final class Main implements Runnable {
    /** The commands, in the order the help lists them. */
    static final String[] COMMANDS = {"build", "depmod", "ls", "cat", "extract", "verify", "info", "modprobe", "mount", "umount"};

    /**
     * A new command object for {@code name}, or null. Building picocli's model of a command is
     * most of a short command's start-up, so a run builds only the model of the command it runs.
     */
    static Object command(String name) {
        switch (name) {
            case "build": return new BuildCommand();
            case "depmod": return new DepmodCommand();
            case "ls": return new LsCommand();
            case "cat": return new CatCommand();
            case "extract": return new ExtractCommand();
            case "verify": return new VerifyCommand();
            case "info": return new InfoCommand();
            case "modprobe": return new ModprobeCommand();
            case "mount": return new MountCommand();
            case "umount": return new UmountCommand();
            default: return null;
        }
    }

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
            endShortCommand(ModprobeCommand.run(java.util.Arrays.asList(args).subList(1, args.length)));
        }
        // The version needs no command model either.
        if (args.length == 1 && (args[0].equals("--version") || args[0].equals("-V"))) {
            for (String line : new Version().getVersion()) {
                System.out.println(line);
            }
            endShortCommand(0);
        }
        // `info IMAGE`, the common form, needs no model either: building picocli's took most of it.
        if (args.length == 2 && args[0].equals("info") && !args[1].startsWith("-")) {
            endShortCommand(runInfo(args[1]));
        }
        int code;
        try {
            MountCommand server = args.length > 1 && args[0].equals("mount") ? MountCommand.parseServer(args) : null;
            code = server != null ? callWithoutModel(server) : run(args);
        } catch (Throwable t) {
            // picocli hands Errors (OutOfMemoryError, StackOverflowError...) straight through:
            // they get the same one line as any other failure.
            code = fail(t);
        }
        // A mount server that bin/kmodpack started in the background tells it how it ended.
        if (code != 0 && args.length > 1 && args[0].equals("mount") && java.util.Arrays.asList(args).contains("--server")) {
            kmodpack.fuse.Background.reportFailure(code);
        }
        System.exit(code);
    }

    /** A command parsed without picocli, with the messages and exit codes picocli's handlers give. */
    static int callWithoutModel(java.util.concurrent.Callable<Integer> command) {
        try {
            return command.call();
        } catch (ExitException e) {
            System.err.println("kmodpack: " + describe(e));
            System.err.flush();
            return e.code;
        } catch (Throwable t) {
            return fail(t);
        } finally {
            System.out.flush();
        }
    }

    /**
     * Ends {@code modprobe}, {@code --version} and {@code info IMAGE} once their output is flushed.
     * They register no shutdown hook, and System.exit on JDK 21 and later sets up System.Logger
     * to log the exit (a service lookup, streams and lambdas: about 25 ms of a fresh JDK 25, as
     * long as the rest of {@code --version}); halting skips that.
     */
    static void endShortCommand(int code) {
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(code);
    }

    /** {@code info IMAGE} without picocli, with the messages and exit codes it would give. */
    static int runInfo(String image) {
        InfoCommand info = new InfoCommand();
        // A named class, not a lambda: the first lambda costs a fresh JVM about 10 ms.
        return callWithoutModel(new java.util.concurrent.Callable<Integer>() {
            @Override
            public Integer call() throws Exception {
                info.image = java.nio.file.Path.of(image);
                return info.call();
            }
        });
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

    /** The model with every command. */
    static CommandLine fullModel() {
        CommandLine cl = new CommandLine(new Main());
        for (String name : COMMANDS) {
            cl.addSubcommand(name, command(name));
        }
        return cl;
    }

    /**
     * The command line as the man pages and shell completion describe it: the model {@code --help}
     * prints, with modprobe's options (parsed by modprobe's own parser) added from its table.
     */
    static CommandLine documentedModel() {
        CommandLine cl = fullModel();
        ModprobeCommand.describeOptions(cl.getSubcommands().get("modprobe").getCommandSpec());
        return cl;
    }

    /** Runs the command line and returns its exit code; never throws. */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        Object only = args.length > 0 ? command(args[0]) : null;
        if (only != null) {
            cl.addSubcommand(args[0], only);
        } else {
            for (String name : COMMANDS) {
                cl.addSubcommand(name, command(name));
            }
        }
        cl.setParameterExceptionHandler(new UsageHandler());
        cl.setExecutionExceptionHandler(new ErrorHandler());
        return cl.execute(args);
    }

    /** Usage errors (unknown option, bad value, missing argument): one line, exit 2. */
    private static final class UsageHandler implements CommandLine.IParameterExceptionHandler {
        @Override
        public int handleParseException(CommandLine.ParameterException ex, String[] given) {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter err = cmd.getErr();
            err.println("kmodpack: " + ex.getMessage().replace('\n', ' ') + " (see '"
                    + cmd.getCommandSpec().qualifiedName() + " --help')");
            if (debug) {
                ex.printStackTrace(err);
            }
            err.flush();
            return cmd.getCommandSpec().exitCodeOnInvalidInput();
        }
    }

    /** An error from a command: one line on stderr (and the stack trace with --debug). */
    private static final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
        @Override
        public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
            PrintWriter err = cmd.getErr();
            err.println("kmodpack: " + describe(ex));
            if (debug) {
                ex.printStackTrace(err);
            }
            err.flush();
            return ex instanceof ExitException e ? e.code : 1;
        }
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

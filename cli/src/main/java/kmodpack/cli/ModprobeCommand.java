package kmodpack.cli;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import kmodpack.loader.Host;
import kmodpack.loader.LinuxSyscalls;
import kmodpack.loader.Modprobe;
import kmodpack.loader.ModprobeRun;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kmodpack modprobe}: modprobe's options over a packed image. */
@Command(name = "modprobe", sortOptions = false, usageHelpAutoWidth = true,
        description = {"Load or remove a kernel module and its dependencies, reading modules and "
                + "indexes from a kmodpack image (ROOT/boot/modules-VERSION, or --image FILE).",
                "Resolution, order and messages follow kmod's modprobe."})
public final class ModprobeCommand implements Callable<Integer> {
    @Parameters(paramLabel = "NAME [PARAM=VALUE...]", description = "module name or alias, then its parameters (with -a: names)")
    List<String> args = new ArrayList<>();

    @Option(names = {"-a", "--all"}, description = "every argument is a module name")
    boolean all;
    @Option(names = {"-r", "--remove"}, description = "remove modules instead of inserting")
    boolean remove;
    @Option(names = {"--remove-holders", "--remove-dependencies"}, description = "also remove modules that hold it (with -r)")
    boolean removeHolders;
    @Option(names = "--first-time", description = "fail if the module is already inserted or removed")
    boolean firstTime;
    @Option(names = {"-i", "--ignore-install", "--ignore-remove"}, description = "ignore install and remove commands")
    boolean ignoreCommands;
    @Option(names = {"-b", "--use-blacklist"}, description = "apply the blacklist to module names too")
    boolean useBlacklist;
    @Option(names = {"-f", "--force"}, description = "ignore module versions and vermagic")
    boolean force;
    @Option(names = "--force-modversion", description = "ignore module versions")
    boolean forceModversion;
    @Option(names = "--force-vermagic", description = "ignore the version magic")
    boolean forceVermagic;
    @Option(names = {"-R", "--resolve-alias"}, description = "only look up and print the module names")
    boolean resolveAlias;
    @Option(names = {"-D", "--show-depends"}, description = "only print what would be loaded, in order")
    boolean showDepends;
    @Option(names = {"-n", "--dry-run", "--show"}, description = "do everything but load or remove")
    boolean dryRun;
    @Option(names = {"-C", "--config"}, paramLabel = "PATH", description = "configuration file or directory instead of the modprobe.d directories (repeatable)")
    List<String> config;
    @Option(names = {"-d", "--dirname"}, paramLabel = "ROOT", description = "root directory: the image is ROOT/boot/modules-VERSION")
    String root;
    @Option(names = {"-S", "--set-version"}, paramLabel = "VERSION", description = "kernel version instead of uname -r")
    String version;
    @Option(names = "--image", paramLabel = "FILE", description = "the image file (or an unpacked lib/modules/VERSION directory)")
    String image;
    @Option(names = {"-q", "--quiet"}, description = "no messages")
    boolean quiet;
    @Option(names = {"-v", "--verbose"}, description = "more messages (repeatable)")
    boolean[] verbose = new boolean[0];
    @Option(names = "--debug", description = "show stack traces of errors")
    boolean debug;
    @Option(names = "--host-root", hidden = true, description = "a fake root for /etc, /proc and /sys (tests)")
    Path hostRoot;
    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help")
    boolean help;

    /** Opens a packed image; replaced where the image format is known. */
    static ModprobeRun.ImageOpener opener = file -> {
        throw new IOException("not a module directory, and image files are not readable yet");
    };

    @Override
    public Integer call() {
        Modprobe.Options o = new Modprobe.Options();
        o.all = all;
        o.remove = remove;
        o.removeHolders = removeHolders;
        o.firstTime = firstTime;
        o.ignoreCommands = ignoreCommands;
        o.useBlacklist = useBlacklist;
        o.force = force;
        o.forceModversion = forceModversion;
        o.forceVermagic = forceVermagic;
        o.resolveAlias = resolveAlias;
        o.showDepends = showDepends;
        o.dryRun = dryRun;
        o.quiet = quiet;
        o.verbose = verbose.length;
        ModprobeRun.Source src = new ModprobeRun.Source();
        src.root = root;
        src.version = version;
        src.image = image;
        src.configPaths = config;
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.ISO_8859_1);
        PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.ISO_8859_1);
        Host host = hostRoot == null ? Host.real() : Host.under(hostRoot);
        try {
            return ModprobeRun.run(o, args, src, host, opener, LinuxSyscalls::new, out, err);
        } catch (ModprobeRun.SetupException e) {
            err.println("modprobe: FATAL: " + e.getMessage());
            if (debug) e.printStackTrace(err);
            return 1;
        } catch (RuntimeException e) {
            err.println("modprobe: FATAL: " + e);
            if (debug) e.printStackTrace(err);
            return 1;
        } finally {
            out.flush();
        }
    }

    /** Bad usage is one line, as modprobe's own, not the whole help. */
    static CommandLine configure(CommandLine cl) {
        return cl.setParameterExceptionHandler((ex, argv) -> {
            ex.getCommandLine().getErr().println("modprobe: " + ex.getMessage() + " (see --help)");
            return 1;
        });
    }

    /** Runs the command on its own, without the other subcommands: the quickest start. */
    public static void main(String[] argv) {
        System.exit(configure(new CommandLine(new ModprobeCommand())).execute(argv));
    }
}

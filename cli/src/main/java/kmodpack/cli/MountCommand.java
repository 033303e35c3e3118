package kmodpack.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import kmodpack.fuse.Background;
import kmodpack.fuse.MountOptions;
import kmodpack.fuse.Mounter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "mount", mixinStandardHelpOptions = true,
        description = {"Serve an image read-only through FUSE, by default at /lib/modules/VERSION (VERSION from the image).",
            "Without -f, returns once the mount answers; the server keeps running in the background until "
                    + "'kmodpack umount MOUNTPOINT' (or SIGTERM)."})
final class MountCommand implements Callable<Integer> {
    @Option(names = "-f", description = "Stay in the foreground; unmount on Ctrl-C or SIGTERM.")
    boolean foreground;

    @Option(names = "-o", paramLabel = "OPTIONS", description = "FUSE mount options, comma-separated, e.g. allow_other (repeatable).")
    List<String> options = new ArrayList<>();

    @Option(names = "--multi-threaded", description = "With the libfuse server (users who cannot mount, KMODPACK_FUSE=libfuse): "
            + "libfuse's multi-threaded loop (default: one thread, which measured cheaper). Root's own server always "
            + "reads requests on one thread per core; blocks are decoded ahead on one thread per core either way.")
    boolean multiThreaded;

    /** Set on the background server that a mount without -f starts. */
    @Option(names = "--server", hidden = true)
    boolean server;

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", arity = "0..1", paramLabel = "MOUNTPOINT", description = "Default: /lib/modules/VERSION.")
    Path mountPoint;

    /**
     * The background server's command line ({@code mount --server ...}, written by bin/kmodpack
     * or by {@link #call}) parsed without picocli, whose model of the command takes longer to
     * build than the rest of a server's start before it mounts. Returns null for anything but
     * the options that command line uses; picocli then parses it as usual.
     */
    static MountCommand parseServer(String[] args) {
        MountCommand c = new MountCommand();
        List<String> positional = new ArrayList<>();
        boolean options = true;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (!options || !a.startsWith("-") || a.equals("-")) {
                positional.add(a);
            } else if (a.equals("--")) {
                options = false;
            } else if (a.equals("--server")) {
                c.server = true;
            } else if (a.equals("--multi-threaded")) {
                c.multiThreaded = true;
            } else if (a.equals("-f")) {
                c.foreground = true;
            } else if (a.equals("--debug")) {
                Main.debug = true;
            } else if (a.equals("-o") && i + 1 < args.length) {
                c.options.add(args[++i]);
            } else if (a.startsWith("-o") && a.length() > 2 && a.charAt(2) != '=') {
                c.options.add(a.substring(2));
            } else {
                return null;
            }
        }
        if (!c.server || positional.isEmpty() || positional.size() > 2) {
            return null;
        }
        c.image = Path.of(positional.get(0));
        c.mountPoint = positional.size() > 1 ? Path.of(positional.get(1)) : null;
        return c;
    }

    @Override
    public Integer call() throws Exception {
        List<String> opts = MountOptions.split(options);
        if (foreground || server) {
            return Mounter.planAndServe(image, mountPoint, opts, multiThreaded, server);
        }
        Mounter.Plan plan = Mounter.plan(image, mountPoint, opts);
        List<String> args = new ArrayList<>(List.of("mount", "--server"));
        if (multiThreaded) {
            args.add("--multi-threaded");
        }
        if (!opts.isEmpty()) {
            args.add("-o");
            args.add(String.join(",", opts));
        }
        args.add("--");
        args.add(plan.image().toString());
        args.add(plan.mountPoint().toString());
        int heap = plan.heapMegabytes(Runtime.getRuntime().availableProcessors());
        Background.start(Background.javaCommand(Main.class.getName(), args, heap));
        return 0;
    }
}

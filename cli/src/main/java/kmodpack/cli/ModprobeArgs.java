package kmodpack.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import kmodpack.loader.Modprobe;
import kmodpack.loader.ModprobeRun;

/**
 * modprobe's command line, parsed the way getopt_long does it: options and names may be mixed,
 * short options cluster ({@code -aD}), an option's value follows it or is attached
 * ({@code -Cdir}, {@code --config=dir}), and {@code --} ends the options. Hand-written rather
 * than reflective so that a modprobe run starts quickly. The front end of modprobe, as kmod's
 * tools/modprobe.c is to libkmod: the loader library only takes the parsed options.
 */
final class ModprobeArgs {
    public final Modprobe.Options options = new Modprobe.Options();
    public final ModprobeRun.Source source = new ModprobeRun.Source();
    public final List<String> args = new ArrayList<>();
    public boolean help, debug;
    public Path hostRoot;

    /** A usage mistake; its message is one line. */
    public static final class UsageException extends Exception {
        public UsageException(String message) {
            super(message);
        }
    }

    private enum Opt {
        ALL("a", "all"), REMOVE("r", "remove"), REMOVE_HOLDERS(null, "remove-holders", "remove-dependencies"),
        FIRST_TIME(null, "first-time"), IGNORE("i", "ignore-install", "ignore-remove"), BLACKLIST("b", "use-blacklist"),
        FORCE("f", "force"), FORCE_MODVERSION(null, "force-modversion"), FORCE_VERMAGIC(null, "force-vermagic"),
        RESOLVE("R", "resolve-alias"), SHOW_DEPENDS("D", "show-depends"), DRY_RUN("n", "dry-run", "show"),
        CONFIG("C", true, "config"), DIRNAME("d", true, "dirname"), VERSION("S", true, "set-version"),
        IMAGE(null, true, "image"), QUIET("q", "quiet"), VERBOSE("v", "verbose"), HELP("h", "help"),
        DEBUG(null, "debug"), HOST_ROOT(null, true, "host-root");

        final String shortName;
        final boolean hasArg;
        final String[] longNames;

        Opt(String shortName, String... longNames) {
            this(shortName, false, longNames);
        }

        Opt(String shortName, boolean hasArg, String... longNames) {
            this.shortName = shortName;
            this.hasArg = hasArg;
            this.longNames = longNames;
        }
    }

    public static ModprobeArgs parse(List<String> argv) throws UsageException {
        ModprobeArgs a = new ModprobeArgs();
        for (int i = 0; i < argv.size(); i++) {
            String s = argv.get(i);
            if (s.equals("--")) {
                a.args.addAll(argv.subList(i + 1, argv.size()));
                break;
            }
            if (s.startsWith("--")) {
                String name = s.substring(2);
                String value = null;
                int eq = name.indexOf('=');
                if (eq >= 0) {
                    value = name.substring(eq + 1);
                    name = name.substring(0, eq);
                }
                Opt o = longOption(name);
                if (o.hasArg) {
                    if (value == null) {
                        if (i + 1 >= argv.size()) throw new UsageException("option '--" + name + "' requires an argument");
                        value = argv.get(++i);
                    }
                } else if (value != null) {
                    throw new UsageException("option '--" + name + "' doesn't allow an argument");
                }
                a.apply(o, value);
            } else if (s.startsWith("-") && s.length() > 1) {
                for (int j = 1; j < s.length(); j++) {
                    String c = s.substring(j, j + 1);
                    Opt o = shortOption(c);
                    if (o.hasArg) {
                        String value;
                        if (j + 1 < s.length()) value = s.substring(j + 1);
                        else if (i + 1 < argv.size()) value = argv.get(++i);
                        else throw new UsageException("option requires an argument -- '" + c + "'");
                        a.apply(o, value);
                        break;
                    }
                    a.apply(o, null);
                }
            } else {
                a.args.add(s);
            }
        }
        return a;
    }

    private static Opt longOption(String name) throws UsageException {
        Opt prefixMatch = null;
        int prefixMatches = 0;
        for (Opt o : Opt.values()) {
            for (String l : o.longNames) {
                if (l.equals(name)) return o;
                if (!name.isEmpty() && l.startsWith(name) && o != prefixMatch) {
                    prefixMatch = o;
                    prefixMatches++;
                }
            }
        }
        // getopt_long accepts an unambiguous abbreviation.
        if (prefixMatches == 1) return prefixMatch;
        if (prefixMatches > 1) throw new UsageException("option '--" + name + "' is ambiguous");
        throw new UsageException("unrecognized option '--" + name + "'");
    }

    private static Opt shortOption(String c) throws UsageException {
        for (Opt o : Opt.values()) if (c.equals(o.shortName)) return o;
        throw new UsageException("invalid option -- '" + c + "'");
    }

    private void apply(Opt o, String v) {
        Modprobe.Options p = options;
        switch (o) {
            case ALL -> p.all = true;
            case REMOVE -> p.remove = true;
            case REMOVE_HOLDERS -> p.removeHolders = true;
            case FIRST_TIME -> p.firstTime = true;
            case IGNORE -> p.ignoreCommands = true;
            case BLACKLIST -> p.useBlacklist = true;
            case FORCE -> p.force = true;
            case FORCE_MODVERSION -> p.forceModversion = true;
            case FORCE_VERMAGIC -> p.forceVermagic = true;
            case RESOLVE -> p.resolveAlias = true;
            case SHOW_DEPENDS -> p.showDepends = true;
            case DRY_RUN -> p.dryRun = true;
            case CONFIG -> {
                if (source.configPaths == null) source.configPaths = new ArrayList<>();
                source.configPaths.add(v);
            }
            case DIRNAME -> source.root = v;
            case VERSION -> source.version = v;
            case IMAGE -> source.image = v;
            case QUIET -> p.quiet = true;
            case VERBOSE -> p.verbose++;
            case HELP -> help = true;
            case DEBUG -> debug = true;
            case HOST_ROOT -> hostRoot = Path.of(v);
        }
    }

    public static final String USAGE = String.join("\n",
            "Usage: kmodpack modprobe [options] NAME [PARAM=VALUE...]",
            "       kmodpack modprobe [options] -a NAME...",
            "       kmodpack modprobe [options] -r [-a] NAME...",
            "Load or remove a kernel module and its dependencies, reading modules and indexes",
            "from a kmodpack image. Resolution, order and messages follow kmod's modprobe.",
            "",
            "Where the modules are:",
            "  -d, --dirname=ROOT        root directory: the image is ROOT/boot/modules-VERSION",
            "  -S, --set-version=VERSION kernel version instead of uname -r",
            "      --image=FILE          the image file (or an unpacked lib/modules/VERSION directory)",
            "  -C, --config=PATH         configuration file or directory instead of the modprobe.d",
            "                            directories (repeatable)",
            "Management:",
            "  -a, --all                 every argument is a module name",
            "  -r, --remove              remove modules instead of inserting",
            "      --remove-holders      also remove the modules that hold it (with -r)",
            "      --first-time          fail if the module is already inserted or removed",
            "  -i, --ignore-install      ignore install and remove commands",
            "  -b, --use-blacklist       apply the blacklist to module names too",
            "  -f, --force               ignore module versions and the version magic",
            "      --force-modversion    ignore module versions",
            "      --force-vermagic      ignore the version magic",
            "Query:",
            "  -D, --show-depends        only print what would be loaded, in order",
            "  -R, --resolve-alias       only look up and print the module names",
            "General:",
            "  -n, --dry-run             do everything but load or remove",
            "  -q, --quiet               no messages",
            "  -v, --verbose             more messages (repeatable)",
            "      --debug               show the stack trace of an error",
            "  -h, --help                show this help",
            "");
}

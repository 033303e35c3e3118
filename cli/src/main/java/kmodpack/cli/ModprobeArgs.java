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

    /**
     * Every option, in the order {@code --help} lists them. Each carries its own help line, so the
     * usage text, the man page and shell completion all come from this one table. A line break in
     * a description continues it on the next line of {@code --help}.
     */
    private enum Opt {
        DIRNAME(Group.WHERE, "d", "ROOT", "root directory: the image is ROOT/boot/modules-VERSION", "dirname"),
        VERSION(Group.WHERE, "S", "VERSION", "kernel version instead of uname -r", "set-version"),
        IMAGE(Group.WHERE, null, "FILE", "the image file (a directory is refused: only verified bytes are loaded)", "image"),
        CONFIG(Group.WHERE, "C", "PATH", "configuration file or directory instead of the modprobe.d\ndirectories (repeatable)", "config"),
        ALL(Group.MANAGEMENT, "a", null, "every argument is a module name", "all"),
        REMOVE(Group.MANAGEMENT, "r", null, "remove modules instead of inserting", "remove"),
        REMOVE_HOLDERS(Group.MANAGEMENT, null, null, "also remove the modules that hold it (with -r)", "remove-holders", "remove-dependencies"),
        FIRST_TIME(Group.MANAGEMENT, null, null, "fail if the module is already inserted or removed", "first-time"),
        IGNORE(Group.MANAGEMENT, "i", null, "ignore install and remove commands", "ignore-install", "ignore-remove"),
        BLACKLIST(Group.MANAGEMENT, "b", null, "apply the blacklist to module names too", "use-blacklist"),
        FORCE(Group.MANAGEMENT, "f", null, "ignore module versions and the version magic", "force"),
        FORCE_MODVERSION(Group.MANAGEMENT, null, null, "ignore module versions", "force-modversion"),
        FORCE_VERMAGIC(Group.MANAGEMENT, null, null, "ignore the version magic", "force-vermagic"),
        SHOW_DEPENDS(Group.QUERY, "D", null, "only print what would be loaded, in order", "show-depends"),
        RESOLVE(Group.QUERY, "R", null, "only look up and print the module names", "resolve-alias"),
        DRY_RUN(Group.GENERAL, "n", null, "do everything but load or remove", "dry-run", "show"),
        QUIET(Group.GENERAL, "q", null, "no messages", "quiet"),
        VERBOSE(Group.GENERAL, "v", null, "more messages (repeatable)", "verbose"),
        DEBUG(Group.GENERAL, null, null, "show the stack trace of an error", "debug"),
        HELP(Group.GENERAL, "h", null, "show this help", "help"),
        /** Tests run modprobe against a fake /sys and /proc under this directory; not for users. */
        HOST_ROOT(null, null, "DIR", null, "host-root");

        final Group group;
        final String shortName;
        final boolean hasArg;
        /** The value's name in help, or null for a flag. */
        final String label;
        /** Help text, or null for an option help does not show. */
        final String description;
        final String[] longNames;

        Opt(Group group, String shortName, String label, String description, String... longNames) {
            this.group = group;
            this.shortName = shortName;
            this.hasArg = label != null;
            this.label = label;
            this.description = description;
            this.longNames = longNames;
        }
    }

    private enum Group {
        WHERE("Where the modules are"), MANAGEMENT("Management"), QUERY("Query"), GENERAL("General");

        final String heading;

        Group(String heading) {
            this.heading = heading;
        }
    }

    /**
     * One documented option as help shows it: its heading, names (short first), value name (null
     * for a flag) and description (one paragraph). For the man page and shell completion.
     */
    public record OptionHelp(String heading, List<String> names, String label, String description) {
    }

    /** The options {@code --help} shows, in its order. */
    public static List<OptionHelp> documentedOptions() {
        List<OptionHelp> list = new ArrayList<>();
        for (Opt o : Opt.values()) {
            if (o.description == null) continue;
            List<String> names = new ArrayList<>();
            if (o.shortName != null) names.add("-" + o.shortName);
            names.add("--" + o.longNames[0]);
            list.add(new OptionHelp(o.group.heading, List.copyOf(names), o.label, o.description.replace('\n', ' ')));
        }
        return List.copyOf(list);
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

    /** The synopsis lines and the summary that head {@code --help}. */
    public static final List<String> SYNOPSIS = List.of(
            "kmodpack modprobe [options] NAME [PARAM=VALUE...]",
            "kmodpack modprobe [options] -a NAME...",
            "kmodpack modprobe [options] -r [-a] NAME...");
    public static final String SUMMARY = "Load or remove a kernel module and its dependencies, reading modules and indexes\n"
            + "from a kmodpack image. Resolution, order and messages follow kmod's modprobe.";

    public static final String USAGE = usage();

    private static String usage() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < SYNOPSIS.size(); i++) {
            b.append(i == 0 ? "Usage: " : "       ").append(SYNOPSIS.get(i)).append('\n');
        }
        b.append(SUMMARY).append("\n\n");
        Group group = null;
        for (Opt o : Opt.values()) {
            if (o.description == null) continue;
            if (o.group != group) {
                group = o.group;
                b.append(group.heading).append(":\n");
            }
            String names = (o.shortName != null ? "  -" + o.shortName + ", " : "      ") + "--" + o.longNames[0]
                    + (o.label != null ? "=" + o.label : "");
            String pad = " ".repeat(28);
            b.append(names).append(pad, 0, Math.max(1, 28 - names.length()))
                    .append(o.description.replace("\n", "\n" + pad)).append('\n');
        }
        return b.toString();
    }
}

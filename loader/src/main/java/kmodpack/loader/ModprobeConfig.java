package kmodpack.loader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The modprobe.d configuration as libkmod reads it: the module tree's {@code modules.softdep}
 * and every {@code *.conf}/{@code *.alias} file of the configuration directories, sorted by file
 * name (a name seen in an earlier directory hides later ones), then {@code mod.param=} and
 * {@code modprobe.blacklist=} from the kernel command line. Lists keep file order because the
 * first match wins for install, remove and softdep, and options are concatenated in order.
 */
public final class ModprobeConfig {
    public record Alias(String pattern, String modname) {}
    public record Options(String modname, String options) {}
    public record Command(String modname, String command) {}
    public record Softdep(String modname, List<String> pre, List<String> post) {}

    public final List<Alias> aliases = new ArrayList<>();
    public final List<String> blacklist = new ArrayList<>();
    public final List<Options> options = new ArrayList<>();
    public final List<Command> installCommands = new ArrayList<>();
    public final List<Command> removeCommands = new ArrayList<>();
    public final List<Softdep> softdeps = new ArrayList<>();

    private final Log log;

    private ModprobeConfig(Log log) {
        this.log = log;
    }

    /** A configuration file to read: from the module tree, or from the host. */
    private record ConfFile(String name, String displayPath, Path hostPath, boolean fromTree) {}

    /**
     * Reads the configuration.
     *
     * @param configPaths files or directories (modprobe's -C), or null for the default directories
     * @param tree the module tree, for its modules.softdep
     * @param treeDir the module directory's name as modprobe prints it
     */
    public static ModprobeConfig load(Host host, List<String> configPaths, ModuleTree tree, String treeDir,
                                      Log log) throws IOException {
        ModprobeConfig cfg = new ModprobeConfig(log);
        List<ConfFile> files = new ArrayList<>();
        insertSorted(files, new ConfFile("modules.softdep", treeDir + "/modules.softdep", null, true));
        List<String> paths = configPaths != null ? configPaths : List.of(Host.DEFAULT_CONFIG_DIRS);
        for (String p : paths) {
            Path hp = host.path(p);
            if (!Files.exists(hp)) continue;
            if (!Files.isDirectory(hp)) {
                String base = p;
                int slash = base.lastIndexOf('/');
                if (slash >= 0) base = base.substring(slash + 1);
                insertSorted(files, new ConfFile(base, p, hp, false));
                continue;
            }
            // java.io.File's list, not a DirectoryStream: on JDK 25 that one's first use spins a
            // lambda, about 10 ms of a fresh JVM. The stream only says why a directory cannot be read.
            String[] names = hp.toFile().list();
            if (names == null) {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(hp)) {
                    names = new String[0];
                } catch (IOException e) {
                    log.always(Log.ERR, "opendir(" + p + "): " + e.getMessage());
                    continue;
                }
            }
            for (String fn : names) {
                if (fn.startsWith(".")) continue;
                if (fn.length() < 6 || (!fn.endsWith(".conf") && !fn.endsWith(".alias"))) continue;
                Path f = hp.resolve(fn);
                if (Files.isDirectory(f)) {
                    log.always(Log.ERR, "Directories inside directories are not supported: " + p + "/" + fn);
                    continue;
                }
                insertSorted(files, new ConfFile(fn, p + "/" + fn, f, false));
            }
        }
        for (ConfFile f : files) {
            byte[] data;
            if (f.fromTree()) {
                data = tree.read("modules.softdep");
            } else {
                try {
                    data = Files.readAllBytes(f.hostPath());
                } catch (IOException e) {
                    data = null; // unreadable files are skipped, as libkmod does
                }
            }
            if (data != null) cfg.parse(data, f.displayPath());
        }
        byte[] cmdline;
        try {
            cmdline = Files.readAllBytes(host.path("/proc/cmdline"));
        } catch (IOException e) {
            cmdline = null;
        }
        if (cmdline != null) cfg.parseKernelCmdline(cmdline);
        return cfg;
    }

    /** Sorted by name (byte order); a duplicate name is ignored: the first directory wins. */
    private static void insertSorted(List<ConfFile> files, ConfFile f) {
        int i = 0;
        for (; i < files.size(); i++) {
            int cmp = f.name().compareTo(files.get(i).name());
            if (cmp == 0) return;
            if (cmp < 0) break;
        }
        files.add(i, f);
    }

    /** Parses one file's text; public for tests and for a configuration given as text. */
    public static ModprobeConfig parse(String text, Log log) {
        ModprobeConfig cfg = new ModprobeConfig(log);
        cfg.parse(text.getBytes(StandardCharsets.ISO_8859_1), "<text>");
        return cfg;
    }

    // --- one file -------------------------------------------------------------------------

    /** strtok_r over a line, keeping the position so "the rest of the line" can be taken. */
    private static final class Tokens {
        final String s;
        int pos;

        Tokens(String s) {
            this.s = s;
        }

        static boolean isDelim(char c) {
            return c == ' ' || c == '\t';
        }

        String next() {
            int n = s.length();
            while (pos < n && isDelim(s.charAt(pos))) pos++;
            if (pos >= n) return null;
            int start = pos;
            while (pos < n && !isDelim(s.charAt(pos))) pos++;
            String tok = s.substring(start, pos);
            if (pos < n) pos++; // the delimiter that ended the token is consumed
            return tok;
        }

        /** strtok_r with an empty delimiter set: everything left, or null if nothing is. */
        String rest() {
            if (pos >= s.length()) return null;
            String r = s.substring(pos);
            pos = s.length();
            return r;
        }
    }

    private void parse(byte[] data, String filename) {
        int linenum = 0;
        int i = 0;
        final int n = data.length;
        StringBuilder line = new StringBuilder();
        while (i < n) {
            // A line; backslash-newline joins lines, a backslash before anything else is dropped.
            line.setLength(0);
            int lines = 0;
            boolean ended = false;
            while (i < n) {
                char c = (char) (data[i++] & 0xff);
                if (c == '\n') {
                    lines++;
                    ended = true;
                    break;
                }
                if (c == '\\') {
                    if (i < n) {
                        char d = (char) (data[i++] & 0xff);
                        if (d == '\n') {
                            lines++;
                            continue;
                        }
                        line.append(d);
                    } else {
                        line.append((char) 0xff); // getc's EOF stored as a byte
                    }
                    continue;
                }
                line.append(c);
            }
            if (!ended) lines++;
            linenum += lines;
            parseLine(line.toString(), filename, linenum);
        }
    }

    private void parseLine(String line, String filename, int linenum) {
        // A NUL ends the line for the C code that reads it.
        int nul = line.indexOf('\0');
        if (nul >= 0) line = line.substring(0, nul);
        if (line.isEmpty() || line.charAt(0) == '#') return;
        Tokens t = new Tokens(line);
        String cmd = t.next();
        if (cmd == null) return;
        switch (cmd) {
            case "alias": {
                String alias = underscores(t.next());
                String modname = underscores(t.next());
                if (alias == null || modname == null) break;
                aliases.add(new Alias(alias, modname));
                return;
            }
            case "blacklist": {
                String modname = underscores(t.next());
                if (modname == null) break;
                blacklist.add(modname);
                return;
            }
            case "options": {
                String modname = underscores(t.next());
                String opts = t.rest();
                if (modname == null || opts == null) break;
                options.add(new Options(modname, opts.replace('\t', ' ')));
                return;
            }
            case "install":
            case "remove": {
                String modname = underscores(t.next());
                String command = t.rest();
                if (modname == null || command == null) break;
                (cmd.equals("install") ? installCommands : removeCommands).add(new Command(modname, command));
                return;
            }
            case "softdep": {
                String modname = underscores(t.next());
                String deps = t.rest();
                if (modname == null || deps == null) break;
                softdeps.add(parseSoftdep(modname, deps));
                return;
            }
            case "include":
            case "config":
                log.always(Log.ERR, filename + ": command " + cmd + " is deprecated and not parsed anymore");
                return;
            default:
                break;
        }
        log.always(Log.ERR, filename + " line " + linenum + ": ignoring bad line starting with '" + cmd + "'");
    }

    /** "pre:" and "post:" switch lists; words before either are ignored. */
    private static Softdep parseSoftdep(String modname, String line) {
        List<String> pre = new ArrayList<>(), post = new ArrayList<>();
        int mode = 0;
        for (String w : line.split("[ \t\n\u000b\f\r]+")) {
            if (w.isEmpty()) continue;
            if (w.equals("pre:")) mode = 1;
            else if (w.equals("post:")) mode = 2;
            else if (mode == 1) pre.add(w);
            else if (mode == 2) post.add(w);
        }
        return new Softdep(modname, List.copyOf(pre), List.copyOf(post));
    }

    /** Dashes become underscores outside [...]; null for a missing word or a bad bracket. */
    static String underscores(String s) {
        if (s == null) return null;
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '-' -> b.append('_');
                case ']' -> {
                    return null;
                }
                case '[' -> {
                    int close = s.indexOf(']', i);
                    if (close < 0) return null;
                    b.append(s, i, close + 1);
                    i = close;
                }
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    // --- kernel command line ----------------------------------------------------------------

    private static final int IGNORE = 0, MODNAME = 1, PARAM = 2, VALUE = 3, COMPLETE = 4;
    private static final int KCMD_LINE_SIZE = 4096;

    /** {@code mod.param=value} becomes options for mod; {@code modprobe.blacklist=a,b} blacklists. */
    void parseKernelCmdline(byte[] raw) {
        int len = Math.min(raw.length, KCMD_LINE_SIZE - 1);
        char[] buf = new char[len + 1];
        for (int i = 0; i < len; i++) buf[i] = (char) (raw[i] & 0xff);
        buf[len] = 0;
        int state = MODNAME;
        int quoteStart = -1;
        int modname = 0, param = -1, value = -1;
        boolean quoted = false, iter = true;
        for (int p = 0; iter; p++) {
            char c = buf[p];
            switch (c) {
                case '"':
                    quoted = !quoted;
                    if (quoted && state == MODNAME && p == modname) {
                        quoteStart = p;
                        modname = p + 1;
                    } else if (state != VALUE) {
                        state = IGNORE;
                    }
                    break;
                case 0:
                    iter = false;
                    // fall through
                case ' ', '\n', '\t', '\u000b', '\f', '\r':
                    if (quoted && state == VALUE) {
                        // spaces are allowed in a quoted value
                    } else if (quoted) {
                        state = IGNORE;
                    } else if (state == VALUE || state == PARAM) {
                        buf[p] = 0;
                        state = COMPLETE;
                    } else {
                        modname = p + 1;
                        state = MODNAME;
                        quoteStart = -1;
                    }
                    break;
                case '.':
                    if (state == MODNAME) {
                        buf[p] = 0;
                        param = p + 1;
                        state = PARAM;
                    } else if (state == PARAM) {
                        state = IGNORE;
                    }
                    break;
                case '=':
                    if (state == PARAM) {
                        value = p + 1;
                        state = VALUE;
                    } else if (state == MODNAME) {
                        state = IGNORE;
                    }
                    break;
                default:
                    break;
            }
            if (state == COMPLETE) {
                if (quoteStart >= 0 && quoteStart < modname) {
                    // "mod.param=a b" from a boot loader becomes mod.param="a b".
                    System.arraycopy(buf, modname, buf, quoteStart, value - modname);
                    value--;
                    modname--;
                    param--;
                    buf[value] = '"';
                }
                kcmdlineResult(cstr(buf, modname), param < 0 ? null : cstr(buf, param),
                        value < 0 ? null : cstr(buf, value));
                modname = p + 1;
                state = MODNAME;
                quoteStart = -1;
            }
        }
    }

    private static String cstr(char[] buf, int at) {
        int e = at;
        while (e < buf.length && buf[e] != 0) e++;
        return new String(buf, at, e - at);
    }

    private void kcmdlineResult(String modname, String param, String value) {
        if (modname == null || param == null) return;
        if (modname.equals("modprobe") && param.startsWith("blacklist=")) {
            if (value == null) return;
            for (String t : value.split(",", -1)) blacklist.add(t);
        } else {
            String m = underscores(modname);
            if (m == null) {
                log.always(Log.ERR, "Ignoring bad option on kernel command line while parsing module name: '"
                        + modname + "'");
            } else {
                options.add(new Options(m, param.replace('\t', ' ')));
            }
        }
    }
}

package kmodpack.loader;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Module resolution as libkmod does it, over a {@link ModuleTree}: lookup of a name through the
 * configuration and the index files, dependencies from modules.dep, soft dependencies, options
 * and install commands, and the probe list (load order). It follows libkmod's objects closely:
 * a module reached through an alias is a different object from the same module reached by name,
 * which decides where command-line options apply and how softdep cycles end.
 */
public final class Kmod {
    /** Flags for {@link #probeList}. */
    public static final int PROBE_IGNORE_COMMAND = 1;

    private final ModuleTree tree;
    private final String dirname;
    private final ModprobeConfig config;
    private final Log log;
    private final Map<String, Module> pool = new HashMap<>();
    private IndexFile depIndex, aliasIndex, symbolIndex, builtinIndex, builtinAliasIndex;
    private boolean depTried, aliasTried, symbolTried, builtinTried, builtinAliasTried;

    /**
     * @param dirname the module directory as paths are printed, e.g. {@code /lib/modules/6.1.0}
     */
    public Kmod(ModuleTree tree, String dirname, ModprobeConfig config, Log log) {
        this.tree = tree;
        this.dirname = dirname;
        this.config = config;
        this.log = log;
    }

    public String dirname() {
        return dirname;
    }

    public ModprobeConfig config() {
        return config;
    }

    public ModuleTree tree() {
        return tree;
    }

    /**
     * Forgets every module object. modprobe's objects live only while referenced, so nothing
     * carries over from one command-line name to the next.
     */
    public void resetPool() {
        pool.clear();
    }

    /** A kernel module as libkmod sees it. */
    public final class Module {
        final String name;
        final String alias; // set only when created through an alias
        String path;
        boolean depInit;
        List<Module> dep = List.of();
        String options;
        boolean optionsInit;
        String installCommands;
        boolean installInit;
        String removeCommands;
        boolean removeInit;
        int builtin; // 0 unknown, 1 no, 2 yes
        boolean visited, ignorecmd, required;

        Module(String name, String alias) {
            this.name = name;
            this.alias = alias;
        }

        public String name() {
            return name;
        }

        public String alias() {
            return alias;
        }

        /** Absolute path as modprobe prints it, or null (builtin, or not in modules.dep). */
        public String path() {
            if (path != null) return path;
            if (depInit) return null;
            String line = searchModdep(name);
            if (line == null) return null;
            parseDepline(this, line);
            return path;
        }

        /** Path relative to the module directory, for reading the file from the tree. */
        public String relPath() {
            String p = path();
            if (p == null) return null;
            String prefix = dirname + "/";
            return p.startsWith(prefix) ? p.substring(prefix.length()) : null;
        }

        /** Dependencies, most basic first (the modules.dep line reversed). */
        public List<Module> dependencies() {
            if (!depInit) {
                String line = searchModdep(name);
                if (line != null) parseDepline(this, line);
            }
            return dep;
        }

        public boolean isBuiltin() {
            if (builtin == 0) builtin = isBuiltinName(name) ? 2 : 1;
            return builtin == 2;
        }

        /** Options from the configuration for this name or the alias it was reached by. */
        public String options() {
            if (!optionsInit) {
                StringBuilder b = null;
                for (ModprobeConfig.Options o : config.options) {
                    if (!(o.modname().equals(name) || (alias != null && o.modname().equals(alias)))) continue;
                    if (o.options().isEmpty()) continue;
                    if (b == null) b = new StringBuilder();
                    else b.append(' ');
                    b.append(o.options());
                }
                options = b == null ? null : b.toString();
                optionsInit = true;
            }
            return options;
        }

        /** The first install command whose pattern matches the name. */
        public String installCommands() {
            if (!installInit) {
                for (ModprobeConfig.Command c : config.installCommands) {
                    if (Fnmatch.matches(c.modname(), name)) {
                        installCommands = c.command();
                        break;
                    }
                }
                installInit = true;
            }
            return installCommands;
        }

        public String removeCommands() {
            if (!removeInit) {
                for (ModprobeConfig.Command c : config.removeCommands) {
                    if (Fnmatch.matches(c.modname(), name)) {
                        removeCommands = c.command();
                        break;
                    }
                }
                removeInit = true;
            }
            return removeCommands;
        }

        /** Whether the probe decided to ignore this module's install command. */
        public boolean ignoreCommand() {
            return ignorecmd;
        }

        /** False for modules that are only soft dependencies: their failures are ignored. */
        public boolean required() {
            return required;
        }

        public boolean isBlacklisted() {
            for (String b : config.blacklist) if (b.equals(name)) return true;
            return false;
        }

        @Override
        public String toString() {
            return alias == null ? name : name + "\\" + alias;
        }
    }

    // --- objects ------------------------------------------------------------------------------

    static String modnameNormalize(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '.') break;
            b.append(c == '-' ? '_' : c);
        }
        return b.toString();
    }

    /** Dashes become underscores except inside [...]; null for a malformed bracket. */
    static String aliasNormalize(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '-') b.append('_');
            else if (c == ']') return null;
            else if (c == '[') {
                int close = s.indexOf(']', i);
                if (close < 0) return null;
                b.append(s, i, close + 1);
                i = close;
            } else b.append(c);
        }
        return b.toString();
    }

    private Module newModule(String key, String name, String alias) {
        Module m = pool.get(key);
        if (m == null) {
            m = new Module(name, alias);
            pool.put(key, m);
        }
        return m;
    }

    public Module moduleFromName(String name) {
        String n = modnameNormalize(name);
        return newModule(n, n, null);
    }

    private Module moduleFromAlias(String alias, String name) {
        return newModule(name + "\\" + alias, name, alias);
    }

    /** Why the last {@link #moduleFromPath} failed, as strerror words it. */
    private String pathError;

    /** A dependency named by its path; null if the file is missing or clashes with a known path. */
    private Module moduleFromPath(String path) {
        String rel = path.startsWith(dirname + "/") ? path.substring(dirname.length() + 1) : null;
        int slash = path.lastIndexOf('/');
        String base = path.substring(slash + 1);
        if (rel == null || !isFile(rel) || base.isEmpty()) {
            pathError = "No such file or directory";
            return null;
        }
        String name = modnameNormalize(base);
        Module m = pool.get(name);
        if (m != null) {
            if (m.path == null) m.path = path;
            else if (!m.path.equals(path)) {
                log.error("kmod_module '" + name + "' already exists with different path: new-path='" + path
                        + "' old-path='" + m.path + "'");
                pathError = "File exists";
                return null;
            }
        } else {
            m = new Module(name, null);
            m.path = path;
            pool.put(name, m);
        }
        m.builtin = 1;
        return m;
    }

    /** The tree never changes: each dependency path is checked once, not once per closure. */
    private final Map<String, Boolean> fileExists = new HashMap<>();

    private boolean isFile(String rel) {
        Boolean b = fileExists.get(rel);
        if (b == null) {
            try {
                b = tree.isFile(rel);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            fileExists.put(rel, b);
        }
        return b;
    }

    private String joinPath(String p) {
        return p.startsWith("/") ? p : dirname + "/" + p;
    }

    /** "path: dep dep ..." sets the path and the dependency list (reversed: most basic first). */
    private void parseDepline(Module mod, String line) {
        if (mod.depInit) return;
        mod.depInit = true;
        int colon = line.indexOf(':');
        if (colon < 0) return;
        if (mod.path == null) mod.path = joinPath(line.substring(0, colon));
        List<Module> list = new ArrayList<>();
        int i = colon + 1;
        final int n = line.length();
        while (i < n) {
            while (i < n && (line.charAt(i) == ' ' || line.charAt(i) == '\t')) i++;
            if (i >= n) break;
            int s = i;
            while (i < n && line.charAt(i) != ' ' && line.charAt(i) != '\t') i++;
            String path = joinPath(line.substring(s, i));
            Module d = moduleFromPath(path);
            if (d == null) {
                // libkmod's words, context pointer included: scripts match on them.
                log.error("ctx=0x" + Integer.toHexString(System.identityHashCode(this)) + " path=" + path
                        + " error=" + pathError);
                mod.depInit = false;
                return;
            }
            list.add(0, d);
        }
        mod.dep = list;
    }

    // --- indexes ------------------------------------------------------------------------------

    private IndexFile openIndex(String file) {
        try {
            IndexFile.Source source = tree.randomAccess(file);
            // depmod writes an empty modules.builtin.bin (and .builtin.alias.bin) for a tree
            // without modules.builtin; libkmod cannot open it and quietly finds nothing there.
            if (source == null || source.length() < IndexFile.HEADER_SIZE) return null;
            return new IndexFile(source, file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private IndexFile depIndex() {
        if (!depTried) {
            depTried = true;
            depIndex = openIndex("modules.dep.bin");
        }
        return depIndex;
    }

    private IndexFile aliasIndex() {
        if (!aliasTried) {
            aliasTried = true;
            aliasIndex = openIndex("modules.alias.bin");
        }
        return aliasIndex;
    }

    private IndexFile symbolIndex() {
        if (!symbolTried) {
            symbolTried = true;
            symbolIndex = openIndex("modules.symbols.bin");
        }
        return symbolIndex;
    }

    private IndexFile builtinIndex() {
        if (!builtinTried) {
            builtinTried = true;
            builtinIndex = openIndex("modules.builtin.bin");
        }
        return builtinIndex;
    }

    private IndexFile builtinAliasIndex() {
        if (!builtinAliasTried) {
            builtinAliasTried = true;
            builtinAliasIndex = openIndex("modules.builtin.alias.bin");
        }
        return builtinAliasIndex;
    }

    String searchModdep(String name) {
        IndexFile idx = depIndex();
        return idx == null ? null : idx.search(name);
    }

    boolean isBuiltinName(String name) {
        IndexFile idx = builtinIndex();
        return idx != null && idx.search(name) != null;
    }

    // --- lookup -------------------------------------------------------------------------------

    /**
     * Modules for a name, alias or {@code symbol:} name: the first source that knows it wins
     * (configuration aliases, modules.dep, symbols, install/remove commands, modules.alias,
     * modules.builtin, modules.builtin.alias). Null if the name is malformed.
     */
    public List<Module> lookup(String given) {
        String name = aliasNormalize(given);
        if (name == null) return null;
        List<Module> list = new ArrayList<>(2);
        if (lookupConfig(name, list) || lookupModdep(name, list) || lookupSymbol(name, list)
                || lookupCommands(name, list) || lookupAliasIndex(aliasIndex(), name, list, false)
                || lookupBuiltin(name, list) || lookupAliasIndex(builtinAliasIndex(), name, list, true)) {
            return list;
        }
        return list;
    }

    private boolean lookupConfig(String name, List<Module> list) {
        for (ModprobeConfig.Alias a : config.aliases) {
            if (Fnmatch.matches(a.pattern(), name)) list.add(moduleFromAlias(a.pattern(), a.modname()));
        }
        return !list.isEmpty();
    }

    private boolean lookupModdep(String name, List<Module> list) {
        if (name.indexOf(':') >= 0) return false;
        String line = searchModdep(name);
        if (line == null) return false;
        Module m = moduleFromName(name);
        list.add(m);
        parseDepline(m, line);
        return true;
    }

    private boolean lookupSymbol(String name, List<Module> list) {
        if (!name.startsWith("symbol:")) return false;
        return lookupAliasIndex(symbolIndex(), name, list, false);
    }

    private boolean lookupAliasIndex(IndexFile idx, String name, List<Module> list, boolean builtin) {
        if (idx == null) return false;
        for (IndexFile.Value v : idx.searchWild(name)) {
            Module m = moduleFromAlias(name, v.value());
            if (builtin) m.builtin = 2;
            list.add(m);
        }
        return !list.isEmpty();
    }

    private boolean lookupCommands(String name, List<Module> list) {
        for (ModprobeConfig.Command c : config.installCommands) {
            if (c.modname().equals(name)) {
                Module m = moduleFromName(c.modname());
                list.add(m);
                m.installInit = true;
                m.installCommands = c.command();
                return true;
            }
        }
        for (ModprobeConfig.Command c : config.removeCommands) {
            if (c.modname().equals(name)) {
                Module m = moduleFromName(c.modname());
                list.add(m);
                m.removeInit = true;
                m.removeCommands = c.command();
                return true;
            }
        }
        return false;
    }

    private boolean lookupBuiltin(String name, List<Module> list) {
        if (!isBuiltinName(name)) return false;
        Module m = moduleFromName(name);
        m.builtin = 2;
        list.add(m);
        return true;
    }

    // --- softdeps and the probe list ------------------------------------------------------------

    /** pre and post soft dependencies from the first softdep line whose pattern matches. */
    public List<List<Module>> softdeps(Module mod) {
        ModprobeConfig.Softdep s = softdepFor(mod.name);
        if (s == null) return NO_SOFTDEPS;
        return List.of(lookupSoftdep(s.pre()), lookupSoftdep(s.post()));
    }

    private static final List<List<Module>> NO_SOFTDEPS = List.of(List.of(), List.of());
    private static final ModprobeConfig.Softdep NONE = new ModprobeConfig.Softdep("", List.of(), List.of());
    /** The configuration never changes, so which softdep line a name matches is worked out once. */
    private final Map<String, ModprobeConfig.Softdep> softdepByName = new HashMap<>();

    private ModprobeConfig.Softdep softdepFor(String name) {
        ModprobeConfig.Softdep s = softdepByName.get(name);
        if (s == null) {
            s = NONE;
            for (ModprobeConfig.Softdep c : config.softdeps) {
                if (Fnmatch.matches(c.modname(), name)) {
                    s = c;
                    break;
                }
            }
            softdepByName.put(name, s);
        }
        return s == NONE ? null : s;
    }

    private List<Module> lookupSoftdep(List<String> names) {
        List<Module> out = new ArrayList<>();
        for (String n : names) {
            List<Module> l = lookup(n);
            if (l == null) {
                log.error("failed to lookup soft dependency '" + n + "', continuing anyway.");
                continue;
            }
            out.addAll(l);
        }
        return out;
    }

    /**
     * The modules to load for {@code mod}, in order: for each dependency (most basic first) its
     * pre softdeps, itself, its post softdeps; then the same for {@code mod}. A module can appear
     * more than once, exactly as in libkmod.
     */
    public List<Module> probeList(Module mod, boolean ignoreCommand) {
        for (Module m : pool.values()) {
            m.visited = false;
            m.required = false;
        }
        List<Module> list = new ArrayList<>();
        probeList(mod, true, ignoreCommand, list);
        return list;
    }

    private void probeList(Module mod, boolean required, boolean ignoreCommand, List<Module> list) {
        if (mod.visited) return;
        mod.visited = true;
        List<Module> dep = mod.dependencies();
        if (required) {
            mod.required = true;
            for (Module m : dep) m.required = true;
        }
        for (Module m : dep) fillSoftdep(m, list);
        if (ignoreCommand) {
            list.add(mod);
            mod.ignorecmd = true;
        } else {
            fillSoftdep(mod, list);
        }
    }

    private void fillSoftdep(Module mod, List<Module> list) {
        List<List<Module>> sd = softdeps(mod);
        List<Module> pre = sd.get(0), post = sd.get(1);
        for (Module m : pre) probeList(m, false, false, list);
        list.add(mod);
        mod.ignorecmd = !pre.isEmpty() || !post.isEmpty();
        for (Module m : post) probeList(m, false, false, list);
    }

    /** libkmod's module_options_concat: a space joins them, even when the second is absent. */
    public static String concatOptions(String opt, String xopt) {
        int ol = opt == null ? 0 : opt.length(), xl = xopt == null ? 0 : xopt.length();
        if (ol == 0 && xl == 0) return null;
        StringBuilder b = new StringBuilder(ol + xl + 1);
        if (opt != null) b.append(opt).append(' ');
        if (xopt != null) b.append(xopt);
        return b.toString();
    }
}

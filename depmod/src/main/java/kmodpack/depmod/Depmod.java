package kmodpack.depmod;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * kmod's depmod over one module tree, giving the same bytes as kmod 30's {@code depmod -b ROOT
 * VERSION}. Modules are added one at a time with their metadata only (their bytes can be dropped
 * right after), then {@link #output} computes every file depmod writes.
 *
 * <p>What decides the bytes, from kmod's tools/depmod.c: modules are numbered by their line in
 * modules.order (those missing from it come after, in the order of kmod's module-name hash
 * table); a symbol belongs to the last module, in that order, that exports it; a module depends
 * on the owners of the symbols it needs; a topological sort (a stack of modules nobody depends
 * on) numbers the modules, and each modules.dep line lists the module's whole closure in that
 * order. The text files list modules in module order; modules.symbols follows kmod's symbol hash
 * table; index values carry the module's number as priority.
 *
 * <p>Not supported (not used on distribution trees): depmod.d configuration (the default search
 * is used: a module under {@code updates/} wins over one of the same name elsewhere, otherwise the
 * first found), external directories, -E/-F symbol checks.
 */
public final class Depmod {
    /** The files kmod 30's depmod writes, in its order. (modules.weakdep came with kmod 33.) */
    public static final List<String> OUTPUT_FILES = List.of("modules.dep", "modules.dep.bin", "modules.alias",
            "modules.alias.bin", "modules.softdep", "modules.symbols", "modules.symbols.bin", "modules.builtin.bin",
            "modules.builtin.alias.bin", "modules.devname");

    /** The files of a tree depmod reads besides the modules. */
    public static final List<String> INPUT_FILES = List.of("modules.order", "modules.builtin", "modules.builtin.modinfo");

    /** A tree whose modules depend on each other in a circle: depmod refuses it. */
    public static final class CycleException extends IOException {
        CycleException(String message) {
            super(message);
        }
    }

    private static final class Mod {
        final String relPath;
        final String name;
        final String orderKey;
        final ModuleMetadata meta;
        int sortIdx = 1;
        int idx;
        int depSortIdx = Integer.MAX_VALUE;
        int users;
        final List<Mod> deps = new ArrayList<>(4);

        Mod(String relPath, String name, ModuleMetadata meta) {
            this.relPath = relPath;
            this.name = name;
            this.meta = meta;
            // The modules.order key: the path up to the name and ".ko", with the file's own spelling.
            int slash = relPath.lastIndexOf('/');
            int len = Math.min(relPath.length(), slash + 1 + name.length() + 3);
            this.orderKey = relPath.substring(0, len);
        }
    }

    private final Map<String, Mod> byName = new HashMap<>();
    private final Consumer<String> warnings;

    /** @param warnings told about what kmod's depmod reports without failing (one line each) */
    public Depmod(Consumer<String> warnings) {
        this.warnings = warnings;
    }

    /** Whether a module found at relPath would be kept; lets a caller skip reading a module that would not. */
    public boolean wants(String relPath) {
        Mod old = byName.get(ModuleFiles.moduleName(relPath));
        return old == null || (underUpdates(relPath) && !underUpdates(old.relPath));
    }

    /**
     * Adds a module found at relPath (relative to lib/modules/VERSION, '/'-separated), in the
     * order the tree is searched.
     */
    public void add(String relPath, ModuleMetadata meta) {
        if (!wants(relPath)) {
            return;
        }
        String name = ModuleFiles.moduleName(relPath);
        byName.put(name, new Mod(relPath, name, meta));
    }

    /** Reads the metadata of a module file's bytes (compressed or not); empty, with a warning, when libkmod could not read it. */
    public ModuleMetadata read(String relPath, byte[] file) {
        try {
            ModuleMetadata m = ModuleElf.read(ModuleFiles.elf(file));
            if (m == ModuleMetadata.EMPTY) {
                warnings.accept("failed to load symbols from " + relPath + ": not a readable ELF module");
            }
            return m;
        } catch (IOException e) {
            warnings.accept("failed to load symbols from " + relPath + ": " + e.getMessage());
            return ModuleMetadata.EMPTY;
        }
    }

    private static boolean underUpdates(String relPath) {
        return relPath.startsWith("updates/");
    }

    /**
     * Computes the files. order, builtin and builtinModinfo are the contents of modules.order,
     * modules.builtin and modules.builtin.modinfo, or null when the tree has none.
     * Returns them by name, in {@link #OUTPUT_FILES} order.
     */
    public Map<String, byte[]> output(byte[] order, byte[] builtin, byte[] builtinModinfo) throws IOException {
        List<Mod> mods = sortedModules(order);
        resolve(mods);
        Map<String, byte[]> out = new LinkedHashMap<>();
        out.put("modules.dep", deps(mods));
        out.put("modules.dep.bin", depsBin(mods));
        out.put("modules.alias", aliases(mods));
        out.put("modules.alias.bin", aliasesBin(mods));
        out.put("modules.softdep", softdeps(mods));
        List<Map.Entry<String, Mod>> symbols = symbolsInHashOrder(mods);
        out.put("modules.symbols", symbols(symbols));
        out.put("modules.symbols.bin", symbolsBin(symbols));
        out.put("modules.builtin.bin", builtin == null ? new byte[0] : builtinBin(builtin));
        out.put("modules.builtin.alias.bin", builtinModinfo == null ? new byte[0] : builtinAliasBin(builtinModinfo));
        out.put("modules.devname", devname(mods));
        return out;
    }

    /** What {@code depmod -n} prints: the text files, one after the other. */
    public static byte[] show(Map<String, byte[]> files) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (String f : List.of("modules.dep", "modules.alias", "modules.softdep", "modules.symbols", "modules.devname")) {
            o.writeBytes(files.get(f));
        }
        return o.toByteArray();
    }

    private List<Mod> sortedModules(byte[] order) {
        List<Mod> mods = new ArrayList<>(byName.values());
        // kmod builds its array from the module-name table (512 buckets, names sorted within one)...
        mods.sort(Comparator.<Mod>comparingInt(m -> KmodHash.bucket(m.name, 512)).thenComparing(m -> m.name, Depmod::strcmp));
        if (order != null) {
            // ...then a stable sort by the line in modules.order; the others keep 1 and go last.
            Map<String, Mod> byOrderKey = new HashMap<>();
            for (Mod m : mods) {
                byOrderKey.putIfAbsent(m.orderKey, m);
            }
            List<String> lines = new ArrayList<>();
            int start = 0;
            boolean corrupted = false;
            for (int i = 0; i < order.length; i++) {
                if (order[i] == '\n') {
                    lines.add(new String(order, start, i - start, StandardCharsets.ISO_8859_1));
                    start = i + 1;
                }
            }
            if (start < order.length) {
                corrupted = true;
                warnings.accept("modules.order:" + (lines.size() + 1) + " corrupted line misses '\\n'");
            }
            if (!corrupted) {
                int total = lines.size() + 1;
                for (int i = 0; i < lines.size(); i++) {
                    Mod m = byOrderKey.get(lines.get(i));
                    if (m != null) {
                        m.sortIdx = (i + 1) - total;
                    }
                }
                mods.sort(Comparator.comparingInt(m -> m.sortIdx));
            }
        }
        for (int i = 0; i < mods.size(); i++) {
            mods.get(i).idx = i;
        }
        return mods;
    }

    private static int strcmp(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.ISO_8859_1), b.getBytes(StandardCharsets.ISO_8859_1));
    }

    private Map<String, Mod> owners;

    private void resolve(List<Mod> mods) throws CycleException {
        if (mods.size() >= 65535) {
            throw new IllegalStateException("too many modules for depmod: " + mods.size());
        }
        owners = new HashMap<>();
        for (Mod m : mods) {
            for (String s : m.meta.exports()) {
                if (!s.isEmpty()) {
                    owners.put(s, m);
                }
            }
        }
        for (Mod m : mods) {
            for (String need : m.meta.needs()) {
                String n = need.startsWith(".") ? need.substring(1) : need;
                Mod owner = owners.get(n);
                if (owner != null && !m.deps.contains(owner)) {
                    m.deps.add(owner);
                    owner.users++;
                }
            }
        }
        // Topological sort: modules nobody uses first, taken from the top of a stack.
        int[] users = new int[mods.size()];
        int[] roots = new int[mods.size()];
        int nRoots = 0;
        for (int i = 0; i < mods.size(); i++) {
            users[i] = mods.get(i).users;
            if (users[i] == 0) {
                roots[nRoots++] = i;
            }
        }
        int sorted = 0;
        while (nRoots > 0) {
            Mod src = mods.get(roots[--nRoots]);
            src.depSortIdx = sorted++;
            for (Mod dst : src.deps) {
                if (--users[dst.idx] == 0) {
                    roots[nRoots++] = dst.idx;
                }
            }
        }
        if (sorted < mods.size()) {
            List<String> inCycles = new ArrayList<>();
            for (int i = 0; i < mods.size(); i++) {
                if (users[i] > 0) {
                    inCycles.add(mods.get(i).name);
                }
            }
            throw new CycleException("found " + inCycles.size() + " modules in dependency cycles: "
                    + String.join(" ", inCycles.subList(0, Math.min(20, inCycles.size())))
                    + (inCycles.size() > 20 ? " ..." : ""));
        }
        for (Mod m : mods) {
            m.deps.sort(Comparator.comparingInt(d -> d.depSortIdx));
        }
    }

    /** The module's whole closure, ordered as modules.dep lists it. */
    private static List<Mod> closure(Mod m) {
        List<Mod> out = new ArrayList<>();
        BitSet seen = new BitSet();
        ArrayDeque<Mod> todo = new ArrayDeque<>(m.deps);
        while (!todo.isEmpty()) {
            Mod d = todo.pop();
            if (!seen.get(d.idx)) {
                seen.set(d.idx);
                out.add(d);
                todo.addAll(d.deps);
            }
        }
        out.sort(Comparator.comparingInt(d -> d.depSortIdx));
        return out;
    }

    private static String depLine(Mod m) {
        StringBuilder sb = new StringBuilder(m.relPath).append(':');
        for (Mod d : closure(m)) {
            sb.append(' ').append(d.relPath);
        }
        return sb.toString();
    }

    private static byte[] deps(List<Mod> mods) {
        StringBuilder sb = new StringBuilder();
        for (Mod m : mods) {
            sb.append(depLine(m)).append('\n');
        }
        return bytes(sb);
    }

    private static byte[] depsBin(List<Mod> mods) {
        IndexWriter idx = new IndexWriter();
        for (Mod m : mods) {
            idx.insert(m.name, depLine(m), m.idx);
        }
        return idx.toByteArray();
    }

    private static byte[] aliases(List<Mod> mods) {
        StringBuilder sb = new StringBuilder("# Aliases extracted from modules themselves.\n");
        for (Mod m : mods) {
            for (String a : m.meta.aliases()) {
                sb.append("alias ").append(a).append(' ').append(m.name).append('\n');
            }
        }
        return bytes(sb);
    }

    private byte[] aliasesBin(List<Mod> mods) {
        IndexWriter idx = new IndexWriter();
        for (Mod m : mods) {
            for (String a : m.meta.aliases()) {
                String n = normalizeAlias(a);
                if (n == null) {
                    warnings.accept("Unmatched bracket in " + a);
                    continue;
                }
                idx.insert(n, m.name, m.idx);
            }
        }
        return idx.toByteArray();
    }

    /** kmod's alias_normalize: '-' becomes '_' outside brackets; null for an unmatched bracket. */
    static String normalizeAlias(String alias) {
        StringBuilder sb = new StringBuilder(alias.length());
        for (int i = 0; i < alias.length(); i++) {
            char c = alias.charAt(i);
            if (c == '-') {
                sb.append('_');
            } else if (c == ']') {
                return null;
            } else if (c == '[') {
                int close = alias.indexOf(']', i);
                if (close < 0) {
                    return null;
                }
                sb.append(alias, i, close + 1);
                i = close;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static byte[] softdeps(List<Mod> mods) {
        StringBuilder sb = new StringBuilder("# Soft dependencies extracted from modules themselves.\n");
        for (Mod m : mods) {
            for (String s : m.meta.softdeps()) {
                sb.append("softdep ").append(m.name).append(' ').append(s).append('\n');
            }
        }
        return bytes(sb);
    }

    private List<Map.Entry<String, Mod>> symbolsInHashOrder(List<Mod> mods) {
        List<Map.Entry<String, Mod>> list = new ArrayList<>(owners.entrySet());
        list.sort(Comparator.<Map.Entry<String, Mod>>comparingInt(e -> KmodHash.bucket(e.getKey(), 2048))
                .thenComparing(Map.Entry::getKey, Depmod::strcmp));
        return list;
    }

    private static byte[] symbols(List<Map.Entry<String, Mod>> symbols) {
        StringBuilder sb = new StringBuilder("# Aliases for symbols, used by symbol_request().\n");
        for (Map.Entry<String, Mod> e : symbols) {
            sb.append("alias symbol:").append(e.getKey()).append(' ').append(e.getValue().name).append('\n');
        }
        return bytes(sb);
    }

    private static byte[] symbolsBin(List<Map.Entry<String, Mod>> symbols) {
        IndexWriter idx = new IndexWriter();
        for (Map.Entry<String, Mod> e : symbols) {
            idx.insert("symbol:" + e.getKey(), e.getValue().name, e.getValue().idx);
        }
        return idx.toByteArray();
    }

    private byte[] builtinBin(byte[] builtin) {
        IndexWriter idx = new IndexWriter();
        int start = 0;
        while (start < builtin.length) {
            int nl = start;
            while (nl < builtin.length && builtin[nl] != '\n') {
                nl++;
            }
            // kmod keeps the newline: a name without '.' ends with it
            String line = new String(builtin, start, Math.min(nl + 1, builtin.length) - start, StandardCharsets.ISO_8859_1);
            start = nl + 1;
            char c = line.isEmpty() ? '\n' : line.charAt(0);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
                warnings.accept("Invalid modules.builtin line: " + line.strip());
                continue;
            }
            idx.insert(ModuleFiles.moduleName(line), "", 0);
        }
        return idx.toByteArray();
    }

    /** modules.builtin.modinfo is {@code module.key=value\0} records; kmod reads it with a small state machine, followed here. */
    private byte[] builtinAliasBin(byte[] modinfo) {
        IndexWriter idx = new IndexWriter();
        int[] pos = {0};
        while (pos[0] < modinfo.length) {
            String modname = readTo(modinfo, pos, '.');
            if (modname.isEmpty()) {
                continue;
            }
            String key = readTo(modinfo, pos, '=');
            if (!key.equals("alias")) {
                skipTo(modinfo, pos);
                continue;
            }
            String value = readTo(modinfo, pos, '\0');
            if (value.isEmpty()) {
                continue;
            }
            String alias = normalizeAlias(value);
            if (alias == null) {
                warnings.accept("Unmatched bracket in " + value);
                continue;
            }
            idx.insert(alias, modname, 0);
        }
        return idx.toByteArray();
    }

    /** kmod's flush_stream_to: reads up to end, NUL or EOF; the text when it stopped at end, else "". */
    private static String readTo(byte[] b, int[] pos, char end) {
        int start = pos[0];
        int i = start;
        while (i < b.length && b[i] != end && b[i] != 0) {
            i++;
        }
        boolean atEnd = i < b.length && b[i] == end;
        pos[0] = Math.min(i + 1, b.length);
        return atEnd ? new String(b, start, i - start, StandardCharsets.ISO_8859_1) : "";
    }

    /** kmod's flush_stream(in, '\0'): skips past the next NUL. */
    private static void skipTo(byte[] b, int[] pos) {
        int i = pos[0];
        while (i < b.length && b[i] != 0) {
            i++;
        }
        pos[0] = Math.min(i + 1, b.length);
    }

    private byte[] devname(List<Mod> mods) {
        StringBuilder sb = new StringBuilder();
        for (Mod m : mods) {
            String devname = null;
            char type = 0;
            long major = 0;
            long minor = 0;
            for (String a : m.meta.aliases()) {
                long[] mm;
                if (a.startsWith("devname:")) {
                    devname = a.substring("devname:".length());
                } else if ((mm = scanMajorMinor(a, "char-major-")) != null) {
                    type = 'c';
                    major = mm[0];
                    minor = mm[1];
                } else if ((mm = scanMajorMinor(a, "block-major-")) != null) {
                    type = 'b';
                    major = mm[0];
                    minor = mm[1];
                }
                if (type != 0 && devname != null) {
                    break;
                }
            }
            if (devname != null) {
                if (type != 0) {
                    if (sb.length() == 0) {
                        sb.append("# Device nodes to trigger on-demand module loading.\n");
                    }
                    sb.append(m.name).append(' ').append(devname).append(' ').append(type)
                            .append(Long.toUnsignedString(major)).append(':').append(Long.toUnsignedString(minor)).append('\n');
                } else {
                    warnings.accept("Module '" + m.name + "' has devname (" + devname
                            + ") but lacks major and minor information. Ignoring.");
                }
            }
        }
        return bytes(sb);
    }

    /** sscanf(s, PREFIX "%u-%u"): both numbers, or null. */
    private static long[] scanMajorMinor(String s, String prefix) {
        if (!s.startsWith(prefix)) {
            return null;
        }
        int[] p = {prefix.length()};
        Long major = scanUnsigned(s, p);
        if (major == null || p[0] >= s.length() || s.charAt(p[0]) != '-') {
            return null;
        }
        p[0]++;
        Long minor = scanUnsigned(s, p);
        return minor == null ? null : new long[] {major, minor};
    }

    /** scanf's %u into a 32-bit unsigned: optional white space and sign, then digits. */
    private static Long scanUnsigned(String s, int[] p) {
        int i = p[0];
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        boolean negative = false;
        if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
            negative = s.charAt(i) == '-';
            i++;
        }
        int digits = i;
        long v = 0;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            v = v * 10 + (s.charAt(i) - '0');
            if (v > 0xffffffffL) {
                v = 0xffffffffL;
            }
            i++;
        }
        if (i == digits) {
            return null;
        }
        p[0] = i;
        return (negative ? -v : v) & 0xffffffffL;
    }

    private static byte[] bytes(StringBuilder sb) {
        return sb.toString().getBytes(StandardCharsets.ISO_8859_1);
    }
}

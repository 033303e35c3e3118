package kmodpack.depmod;

import java.util.ArrayList;
import java.util.List;

/**
 * The part of a module depmod uses, kept instead of the module's bytes: its {@code alias=} and
 * {@code softdep=} values in {@code .modinfo} order, the symbols it exports and the symbols it
 * needs (libkmod's order, which decides the order of dependencies).
 */
public record ModuleMetadata(List<String> aliases, List<String> softdeps, List<String> exports, List<String> needs) {
    public static final ModuleMetadata EMPTY = new ModuleMetadata(List.of(), List.of(), List.of(), List.of());

    ModuleMetadata(List<String> modinfo, List<String> exports, List<String> needs) {
        this(values(modinfo, "alias"), values(modinfo, "softdep"), List.copyOf(exports), List.copyOf(needs));
    }

    /** Values of one key; a string without '=' is a key with an empty value, as libkmod reads it. */
    private static List<String> values(List<String> modinfo, String key) {
        List<String> out = new ArrayList<>();
        for (String s : modinfo) {
            int eq = s.indexOf('=');
            String k = eq < 0 ? s : s.substring(0, eq);
            if (k.equals(key)) {
                out.add(eq < 0 ? "" : s.substring(eq + 1));
            }
        }
        return List.copyOf(out);
    }
}

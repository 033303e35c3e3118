package kmodpack.depmod;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What depmod needs from one module's ELF file: its {@code .modinfo} strings, the symbols it
 * exports and the symbols it needs. Reads 32- and 64-bit files of either byte order, and follows
 * libkmod's rules (libkmod-elf.c) for what counts, including its fall-backs, so the results match
 * kmod's depmod: exports are the {@code __crc_} symbols of the symbol table, or the strings of
 * {@code __ksymtab_strings} when there are none; needed symbols are the undefined symbols of the
 * symbol table followed by the {@code __versions} entries no undefined symbol matched.
 *
 * <p>The file is untrusted: every offset is checked, and a file libkmod would refuse gives an
 * empty result rather than an exception.
 */
public final class ModuleElf {
    private static final int SHN_UNDEF = 0;
    private static final int STT_REGISTER = 13;
    private static final int EM_SPARC = 2;
    private static final int EM_SPARCV9 = 43;
    private static final int MODVERSION_SIZE = 64;

    private final byte[] b;
    private final boolean is32;
    private final boolean msb;
    private final long shoff;
    private final int shnum;
    private final int machine;
    private final long namesOffset;
    private final long namesSize;

    private ModuleElf(byte[] b, boolean is32, boolean msb, long shoff, int shnum, int machine,
                      long namesOffset, long namesSize) {
        this.b = b;
        this.is32 = is32;
        this.msb = msb;
        this.shoff = shoff;
        this.shnum = shnum;
        this.machine = machine;
        this.namesOffset = namesOffset;
        this.namesSize = namesSize;
    }

    /** The metadata of a module file, or an empty one when libkmod could not read it as ELF. */
    public static ModuleMetadata read(byte[] elf) {
        ModuleElf e = open(elf);
        if (e == null) {
            return ModuleMetadata.EMPTY;
        }
        return new ModuleMetadata(e.modinfo(), e.exports(), e.needs());
    }

    /** Parses the headers as kmod_elf_new does; null for what it refuses. */
    static ModuleElf open(byte[] b) {
        if (b.length <= 16 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F') {
            return null;
        }
        boolean is32;
        switch (b[4]) {
            case 1 -> is32 = true;
            case 2 -> is32 = false;
            default -> { return null; }
        }
        if (b.length <= (is32 ? 52 : 64)) {
            return null;
        }
        boolean msb;
        switch (b[5]) {
            case 1 -> msb = false;
            case 2 -> msb = true;
            default -> { return null; }
        }
        ModuleElf h = new ModuleElf(b, is32, msb, 0, 0, 0, 0, 0);
        long shoff = is32 ? h.u(32, 4) : h.u(40, 8);
        int shentsize = (int) (is32 ? h.u(46, 2) : h.u(58, 2));
        int shnum = (int) (is32 ? h.u(48, 2) : h.u(60, 2));
        int shstrndx = (int) (is32 ? h.u(50, 2) : h.u(62, 2));
        int machine = (int) h.u(18, 2);
        if (shentsize != (is32 ? 40 : 64)) {
            return null;
        }
        long end = shoff + (long) shentsize * shnum;
        if (shoff < 0 || end < 0 || end > b.length) {
            return null;
        }
        ModuleElf e = new ModuleElf(b, is32, msb, shoff, shnum, machine, 0, 0);
        long[] strings = e.section(shstrndx);
        if (strings == null || strings[1] == 0 || b[(int) (strings[0] + strings[1] - 1)] != 0) {
            return null;
        }
        return new ModuleElf(b, is32, msb, shoff, shnum, machine, strings[0], strings[1]);
    }

    /** An unsigned field; -1 (as libkmod) when it lies outside the file. */
    private long u(long offset, int size) {
        if (offset < 0 || offset + size > b.length) {
            return -1;
        }
        int o = (int) offset;
        long v = 0;
        if (msb) {
            for (int i = 0; i < size; i++) {
                v = (v << 8) | (b[o + i] & 0xff);
            }
        } else {
            for (int i = size - 1; i >= 0; i--) {
                v = (v << 8) | (b[o + i] & 0xff);
            }
        }
        return v;
    }

    /** {offset, size, nameoff} of section idx, or null when it does not fit in the file. */
    private long[] section(int idx) {
        if (idx == SHN_UNDEF || idx >= shnum) {
            return null;
        }
        long h = shoff + (long) idx * (is32 ? 40 : 64);
        long size = is32 ? u(h + 20, 4) : u(h + 32, 8);
        long offset = is32 ? u(h + 16, 4) : u(h + 24, 8);
        long nameoff = u(h, 4);
        if (size < 0 || offset < 0 || offset + size < 0 || offset + size > b.length) {
            return null;
        }
        return new long[] {offset, size, nameoff};
    }

    /** The first section called {@code name}: {offset, size}, or null. */
    private long[] find(String name) {
        byte[] want = name.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 1; i < shnum; i++) {
            long[] s = section(i);
            if (s == null || s[2] >= namesSize) {
                continue;
            }
            long p = namesOffset + s[2];
            if (p + want.length < b.length && b[(int) (p + want.length)] == 0) {
                boolean same = true;
                for (int k = 0; k < want.length && same; k++) {
                    same = b[(int) p + k] == want[k];
                }
                if (same) {
                    // libkmod hands out a pointer into the file: a section at its very end is not one
                    return s[0] < b.length ? s : null;
                }
            }
        }
        return null;
    }

    /** A NUL-terminated string at offset (ending at the file's end if unterminated). */
    private String cString(long offset) {
        if (offset < 0 || offset >= b.length) {
            return "";
        }
        int o = (int) offset;
        int e = o;
        while (e < b.length && b[e] != 0) {
            e++;
        }
        return new String(b, o, e - o, StandardCharsets.ISO_8859_1);
    }

    private boolean startsWith(long offset, byte[] prefix) {
        if (offset < 0 || offset + prefix.length > b.length) {
            return false;
        }
        for (int i = 0; i < prefix.length; i++) {
            if (b[(int) offset + i] != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    /** The strings of a section split at NUL runs, leading padding skipped (kmod_elf_get_strings). */
    private List<String> strings(String sectionName) {
        long[] s = find(sectionName);
        if (s == null) {
            return null;
        }
        List<String> out = new ArrayList<>();
        int start = (int) s[0];
        int size = (int) s[1];
        while (size > 1 && b[start] == 0) {
            start++;
            size--;
        }
        if (size <= 1) {
            return out;
        }
        int end = start + size;
        int i = start;
        while (i < end) {
            int e = i;
            while (e < end && b[e] != 0) {
                e++;
            }
            out.add(new String(b, i, e - i, StandardCharsets.ISO_8859_1));
            while (e < end && b[e] == 0) {
                e++;
            }
            i = e;
        }
        return out;
    }

    List<String> modinfo() {
        List<String> s = strings(".modinfo");
        return s == null ? List.of() : s;
    }

    private static final byte[] CRC_PREFIX = "__crc_".getBytes(StandardCharsets.ISO_8859_1);

    /** Exported symbols, as kmod_elf_get_symbols. */
    List<String> exports() {
        long[] strtab = find(".strtab");
        long[] symtab = find(".symtab");
        int symlen = is32 ? 16 : 24;
        if (strtab != null && symtab != null && symtab[1] % symlen == 0) {
            long count = symtab[1] / symlen;
            List<String> out = new ArrayList<>();
            boolean usable = true;
            for (long i = 1; i < count; i++) {
                long nameOff = u(symtab[0] + i * symlen, 4);
                if (nameOff >= strtab[1]) {
                    usable = false;
                    break;
                }
                long p = strtab[0] + nameOff;
                if (startsWith(p, CRC_PREFIX)) {
                    out.add(cString(p + CRC_PREFIX.length));
                }
            }
            if (usable && !out.isEmpty()) {
                return out;
            }
        }
        List<String> ks = strings("__ksymtab_strings");
        return ks == null ? List.of() : ks;
    }

    /** Symbols the module needs, as kmod_elf_get_dependency_symbols. */
    List<String> needs() {
        long[] versions = find("__versions");
        long versionsSize = 0;
        if (versions != null && versions[1] % MODVERSION_SIZE == 0) {
            versionsSize = versions[1];
        }
        long[] strtab = find(".strtab");
        long[] symtab = find(".symtab");
        int symlen = is32 ? 16 : 24;
        if (strtab == null || symtab == null || symtab[1] % symlen != 0) {
            return List.of();
        }
        int crcLen = is32 ? 4 : 8;
        int versionCount = (int) (versionsSize / MODVERSION_SIZE);
        String[] versionNames = new String[versionCount];
        for (int i = 0; i < versionCount; i++) {
            versionNames[i] = cString(versions[0] + (long) i * MODVERSION_SIZE + crcLen);
        }
        boolean[] visited = new boolean[versionCount];
        boolean registers = machine == EM_SPARC || machine == EM_SPARCV9;
        long count = symtab[1] / symlen;
        List<String> out = new ArrayList<>();
        for (long i = 1; i < count; i++) {
            long sym = symtab[0] + i * symlen;
            long nameOff = u(sym, 4);
            int info = (int) u(sym + (is32 ? 12 : 4), 1);
            int shndx = (int) u(sym + (is32 ? 14 : 6), 2);
            if (shndx != SHN_UNDEF) {
                continue;
            }
            if (registers && (info & 0xf) == STT_REGISTER) {
                continue;
            }
            if (nameOff >= strtab[1]) {
                return List.of(); // libkmod gives up on the whole list
            }
            String name = cString(strtab[0] + nameOff);
            if (name.isEmpty()) {
                continue;
            }
            out.add(name);
            for (int v = 0; v < versionCount; v++) {
                if (versionNames[v].equals(name)) {
                    visited[v] = true;
                    break;
                }
            }
        }
        // module_layout (and on old kernels struct_module) match no undefined symbol but count
        for (int v = 0; v < versionCount; v++) {
            if (!visited[v]) {
                out.add(versionNames[v]);
            }
        }
        return out;
    }
}

package kmodpack.depmod;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * depmod on a small tree of modules made here — 32- and 64-bit, little- and big-endian, exports
 * from {@code __crc_} symbols and from {@code __ksymtab_strings}, {@code __versions}, a module
 * missing from modules.order, odd aliases, builtin files — against kmod's depmod when installed.
 */
class SmallTreeTest {
    @TempDir
    Path tmp;

    /** A module: modinfo strings, exports (crc: as __crc_ symbols; else __ksymtab_strings), needs, __versions names. */
    record Mod(String path, boolean is32, boolean msb, List<String> modinfo, List<String> exports, boolean crc,
               List<String> needs, List<String> versions) {
    }

    static byte[] elf(Mod m) {
        boolean is32 = m.is32;
        List<String> secNames = new ArrayList<>(List.of(".modinfo"));
        List<byte[]> secData = new ArrayList<>();
        secData.add(strings(m.modinfo, true));
        if (!m.crc && !m.exports.isEmpty()) {
            secNames.add("__ksymtab_strings");
            secData.add(strings(m.exports, false));
        }
        if (!m.versions.isEmpty()) {
            secNames.add("__versions");
            byte[] v = new byte[64 * m.versions.size()];
            for (int i = 0; i < m.versions.size(); i++) {
                put(v, i * 64, 0x12345678L + i, is32 ? 4 : 8, m.msb);
                byte[] n = m.versions.get(i).getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(n, 0, v, i * 64 + (is32 ? 4 : 8), n.length);
            }
            secData.add(v);
        }
        // Symbol table: a defined __crc_ symbol per export (section 1), an undefined one per need.
        ByteArrayOutputStream strtab = new ByteArrayOutputStream();
        strtab.write(0);
        int symlen = is32 ? 16 : 24;
        List<long[]> syms = new ArrayList<>(); // {nameOff, shndx}
        if (m.crc) {
            for (String e : m.exports) {
                syms.add(new long[] {strtab.size(), 1});
                strtab.writeBytes(("__crc_" + e + "\0").getBytes(StandardCharsets.US_ASCII));
            }
        }
        for (String n : m.needs) {
            syms.add(new long[] {strtab.size(), 0});
            strtab.writeBytes((n + "\0").getBytes(StandardCharsets.US_ASCII));
        }
        byte[] symtab = new byte[symlen * (syms.size() + 1)];
        for (int i = 0; i < syms.size(); i++) {
            int o = symlen * (i + 1);
            put(symtab, o, syms.get(i)[0], 4, m.msb);
            symtab[o + (is32 ? 12 : 4)] = 0x10; // STB_GLOBAL
            put(symtab, o + (is32 ? 14 : 6), syms.get(i)[1], 2, m.msb);
        }
        secNames.add(".symtab");
        secData.add(symtab);
        secNames.add(".strtab");
        secData.add(strtab.toByteArray());
        ByteArrayOutputStream shstr = new ByteArrayOutputStream();
        shstr.write(0);
        int[] nameOff = new int[secNames.size() + 1];
        for (int i = 0; i < secNames.size(); i++) {
            nameOff[i] = shstr.size();
            shstr.writeBytes((secNames.get(i) + "\0").getBytes(StandardCharsets.US_ASCII));
        }
        nameOff[secNames.size()] = shstr.size();
        shstr.writeBytes(".shstrtab\0".getBytes(StandardCharsets.US_ASCII));
        secNames.add(".shstrtab");
        secData.add(shstr.toByteArray());

        int ehsize = is32 ? 52 : 64;
        int shentsize = is32 ? 40 : 64;
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(new byte[ehsize]);
        long[] offs = new long[secData.size()];
        for (int i = 0; i < secData.size(); i++) {
            while (body.size() % 8 != 0) {
                body.write(0);
            }
            offs[i] = body.size();
            body.writeBytes(secData.get(i));
        }
        while (body.size() % 8 != 0) {
            body.write(0);
        }
        long shoff = body.size();
        int shnum = secData.size() + 1;
        byte[] b = new byte[(int) shoff + shnum * shentsize];
        System.arraycopy(body.toByteArray(), 0, b, 0, (int) shoff);
        b[0] = 0x7f;
        b[1] = 'E';
        b[2] = 'L';
        b[3] = 'F';
        b[4] = (byte) (is32 ? 1 : 2);
        b[5] = (byte) (m.msb ? 2 : 1);
        b[6] = 1;
        put(b, 16, 1, 2, m.msb); // ET_REL
        put(b, 18, is32 ? 3 : 62, 2, m.msb);
        put(b, 20, 1, 4, m.msb);
        put(b, is32 ? 32 : 40, shoff, is32 ? 4 : 8, m.msb);
        put(b, is32 ? 40 : 52, ehsize, 2, m.msb);
        put(b, is32 ? 46 : 58, shentsize, 2, m.msb);
        put(b, is32 ? 48 : 60, shnum, 2, m.msb);
        put(b, is32 ? 50 : 62, shnum - 1, 2, m.msb);
        int[] types = new int[secData.size()];
        for (int i = 0; i < secNames.size(); i++) {
            String n = secNames.get(i);
            types[i] = n.equals(".symtab") ? 2 : n.endsWith("strtab") ? 3 : 1;
        }
        for (int i = 0; i < secData.size(); i++) {
            int h = (int) shoff + (i + 1) * shentsize;
            put(b, h, nameOff[i] == 0 && i > 0 ? 0 : nameOff[i], 4, m.msb);
            put(b, h + 4, types[i], 4, m.msb);
            if (is32) {
                put(b, h + 16, offs[i], 4, m.msb);
                put(b, h + 20, secData.get(i).length, 4, m.msb);
            } else {
                put(b, h + 24, offs[i], 8, m.msb);
                put(b, h + 32, secData.get(i).length, 8, m.msb);
            }
            if (types[i] == 2) {
                put(b, h + (is32 ? 24 : 40), i + 2, 4, m.msb); // sh_link: .strtab follows
                put(b, h + (is32 ? 36 : 56), symlen, is32 ? 4 : 8, m.msb);
            }
        }
        return b;
    }

    private static byte[] strings(List<String> l, boolean padFront) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        if (padFront) {
            o.writeBytes(new byte[3]); // leading padding, as the linker leaves it
        }
        for (String s : l) {
            o.writeBytes((s + "\0").getBytes(StandardCharsets.US_ASCII));
        }
        return o.toByteArray();
    }

    private static void put(byte[] b, int off, long v, int size, boolean msb) {
        for (int i = 0; i < size; i++) {
            int shift = 8 * (msb ? size - 1 - i : i);
            b[off + i] = (byte) (v >>> shift);
        }
    }

    static List<Mod> modules() {
        return List.of(
                new Mod("kernel/a/mod_a.ko", false, false,
                        List.of("alias=pci:v00001234d*sv*", "devname:foo", "alias=devname:foo", "alias=char-major-10-200",
                                "softdep=pre: mod_b", "license=GPL"),
                        List.of("a_func", "a_data"), false, List.of(), List.of()),
                new Mod("kernel/b/mod-b.ko", false, true, List.of("alias=of:N*T*Cfoo[0-9-]x", "alias=block-major-8-*"),
                        List.of("b_func"), true, List.of("a_func", "printk"), List.of("module_layout", "a_func")),
                new Mod("kernel/c/mod_c.ko", true, false, List.of("alias=usb:v*p*d*dc*dsc*dp*ic08isc06ip50in*", "alias=mod-c-alias"),
                        List.of("c_func"), true, List.of("b_func", "a_func"), List.of()),
                new Mod("kernel/d/mod_d.ko", true, true, List.of("alias=bad]bracket", "alias=also[bad", "alias=x-y"),
                        List.of(), false, List.of("c_missing", "b_func", "c_func"), List.of("c_func", "module_layout")),
                new Mod("extra/mod-e.ko", false, false, List.of("alias=e"), List.of("e_func"), false, List.of("a_data"), List.of()),
                new Mod("extra/z/mod_f.ko", false, false, List.of(), List.of("a_func"), false, List.of(), List.of()));
    }

    private Path makeTree(boolean compress) throws Exception {
        Path dir = tmp.resolve((compress ? "gz" : "plain") + "/lib/modules/1.0-test");
        for (Mod m : modules()) {
            byte[] b = elf(m);
            Path p = dir.resolve(m.path + (compress && m.path.contains("mod_c") ? ".gz" : ""));
            Files.createDirectories(p.getParent());
            if (compress && m.path.contains("mod_c")) {
                ByteArrayOutputStream o = new ByteArrayOutputStream();
                try (GZIPOutputStream g = new GZIPOutputStream(o)) {
                    g.write(b);
                }
                b = o.toByteArray();
            }
            Files.write(p, b);
        }
        Files.writeString(dir.resolve("modules.order"), "kernel/a/mod_a.ko\nkernel/b/mod-b.ko\nkernel/c/mod_c.ko\nkernel/d/mod_d.ko\n");
        Files.writeString(dir.resolve("modules.builtin"), "kernel/x/builtin1.ko\nkernel/y/builtin-two.ko\n");
        Files.write(dir.resolve("modules.builtin.modinfo"),
                "builtin1.alias=foo-bar\0builtin1.description=x\0builtin_two.alias=pci:v*d*[ab-]\0builtin_two.alias=dup\0"
                        .getBytes(StandardCharsets.US_ASCII));
        return dir;
    }

    @Test
    void sameAsKmodsDepmod() throws Exception {
        Path dir = makeTree(false);
        Map<String, byte[]> ours = TreeDepmod.compute(dir, w -> { });
        String dep = new String(ours.get("modules.dep"), StandardCharsets.US_ASCII);
        assertTrue(dep.contains("kernel/d/mod_d.ko: kernel/c/mod_c.ko kernel/b/mod-b.ko"), dep);
        Path depmod = Path.of("/sbin/depmod");
        Assumptions.assumeTrue(Files.isExecutable(depmod), "kmod's depmod is the reference");
        Process p = new ProcessBuilder(depmod.toString(), "-b", tmp.resolve("plain").toString(), "1.0-test")
                .redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor());
        for (String f : Depmod.OUTPUT_FILES) {
            assertArrayEquals(Files.readAllBytes(dir.resolve(f)), ours.get(f), f + " differs from kmod's");
        }
    }

    @Test
    void gzipModulesCountAsKmodWithZlibCountsThem() throws Exception {
        Path dir = makeTree(true);
        Map<String, byte[]> ours = TreeDepmod.compute(dir, w -> { });
        String dep = new String(ours.get("modules.dep"), StandardCharsets.US_ASCII);
        // a_func: mod_f, missing from modules.order, comes after mod_a and so owns it
        assertTrue(dep.contains("kernel/c/mod_c.ko.gz: kernel/b/mod-b.ko extra/z/mod_f.ko\n"), dep);
    }

    @Test
    void damagedModulesAreListedWithoutMetadata() throws Exception {
        Path dir = tmp.resolve("bad/lib/modules/1.0");
        Files.createDirectories(dir.resolve("kernel"));
        Files.write(dir.resolve("kernel/junk.ko"), "not an elf file at all".getBytes(StandardCharsets.US_ASCII));
        byte[] good = elf(modules().get(0));
        Files.write(dir.resolve("kernel/cut.ko"), java.util.Arrays.copyOf(good, good.length / 2));
        Files.write(dir.resolve("kernel/bad.ko.xz"), new byte[] {(byte) 0xfd, '7', 'z', 'X', 'Z', 0, 1, 2, 3});
        List<String> warnings = new ArrayList<>();
        Map<String, byte[]> ours = TreeDepmod.compute(dir, warnings::add);
        String dep = new String(ours.get("modules.dep"), StandardCharsets.US_ASCII);
        assertTrue(dep.contains("kernel/junk.ko:\n") && dep.contains("kernel/cut.ko:\n") && dep.contains("kernel/bad.ko.xz:\n"), dep);
        assertEquals(3, warnings.size(), warnings.toString());
        assertEquals(0, ours.get("modules.builtin.bin").length, "no modules.builtin: an empty file, as kmod");
    }
}

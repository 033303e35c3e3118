package kmodpack.image.elf;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** Small ELF objects of any class and byte order, with the section kinds the transform splits. */
final class TinyElf {
    private TinyElf() {
    }

    private static final String NAMES = "\0.text\0.rela.text\0.rel.data\0.BTF\0.symtab\0.strtab\0.shstrtab\0.data\0.bss\0";

    private static int name(String n) {
        return NAMES.indexOf("\0" + n + "\0") + 1;
    }

    /** {name, type, flags, content} of the sections after the null one; .shstrtab comes last. */
    static byte[] build(boolean is32, boolean bigEndian) {
        int w = is32 ? 4 : 8;
        byte[] text = new byte[100];
        for (int i = 0; i < text.length; i++) {
            text[i] = (byte) (0x90 + i % 7);
        }
        int relaEnt = 3 * w;
        byte[] rela = new byte[5 * relaEnt];
        for (int j = 0; j < 5; j++) {
            ElfHeader.put(rela, j * relaEnt, 4 + 9L * j, w, bigEndian);
            ElfHeader.put(rela, j * relaEnt + w, is32 ? (j % 2 + 1) << 8 | 2 : (long) (j % 2 + 1) << 32 | 4, w, bigEndian);
            ElfHeader.put(rela, j * relaEnt + 2 * w, j % 2 == 0 ? -4 : 16L * j, w, bigEndian);
        }
        byte[] rel = new byte[3 * 2 * w];
        for (int j = 0; j < 3; j++) {
            ElfHeader.put(rel, j * 2 * w, 8L * j, w, bigEndian);
            ElfHeader.put(rel, j * 2 * w + w, is32 ? 1 << 8 | 1 : 1L << 32 | 1, w, bigEndian);
        }
        byte[] btf = "BTF type data".getBytes(StandardCharsets.US_ASCII);
        byte[] symtab = new byte[3 * (is32 ? 16 : 24)];
        symtab[is32 ? 16 : 24] = 1;
        byte[] strtab = "\0foo\0bar\0".getBytes(StandardCharsets.US_ASCII);
        byte[] data = new byte[24];
        byte[] shstrtab = NAMES.getBytes(StandardCharsets.US_ASCII);
        Object[][] sections = {
            {".text", 1, 6L, text},
            {".rela.text", 4, 0x40L, rela},
            {".data", 1, 3L, data},
            {".rel.data", 9, 0x40L, rel},
            {".bss", 8, 3L, new byte[0]},
            {".BTF", 1, 0L, btf},
            {".symtab", 2, 0L, symtab},
            {".strtab", 3, 0L, strtab},
            {".shstrtab", 3, 0L, shstrtab},
        };
        int ehsize = is32 ? 52 : 64;
        int shentsize = is32 ? 40 : 64;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[ehsize], 0, ehsize);
        long[] offsets = new long[sections.length];
        for (int i = 0; i < sections.length; i++) {
            while (out.size() % 8 != 0) {
                out.write(0);
            }
            offsets[i] = out.size();
            byte[] c = (byte[]) sections[i][3];
            out.write(c, 0, c.length);
        }
        while (out.size() % 8 != 0) {
            out.write(0);
        }
        int shoff = out.size();
        int shnum = sections.length + 1;
        byte[] sht = new byte[shnum * shentsize];
        for (int i = 0; i < sections.length; i++) {
            int at = (i + 1) * shentsize;
            byte[] c = (byte[]) sections[i][3];
            long size = (int) sections[i][1] == 8 ? 64 : c.length;
            ElfHeader.put(sht, at, name((String) sections[i][0]), 4, bigEndian);
            ElfHeader.put(sht, at + 4, (int) sections[i][1], 4, bigEndian);
            ElfHeader.put(sht, at + 8, (long) sections[i][2], w, bigEndian);
            ElfHeader.put(sht, at + (is32 ? 16 : 24), offsets[i], w, bigEndian);
            ElfHeader.put(sht, at + (is32 ? 20 : 32), size, w, bigEndian);
        }
        out.write(sht, 0, sht.length);
        byte[] trailer = "\1\2\3 signature\0\0\0\0~Module signature appended~\n".getBytes(StandardCharsets.US_ASCII);
        out.write(trailer, 0, trailer.length);
        byte[] f = out.toByteArray();
        f[0] = 0x7f;
        f[1] = 'E';
        f[2] = 'L';
        f[3] = 'F';
        f[4] = (byte) (is32 ? 1 : 2);
        f[5] = (byte) (bigEndian ? 2 : 1);
        f[6] = 1;
        ElfHeader.put(f, 16, 1, 2, bigEndian);                        // ET_REL
        ElfHeader.put(f, is32 ? 32 : 40, shoff, w, bigEndian);
        ElfHeader.put(f, is32 ? 40 : 52, ehsize, 2, bigEndian);
        ElfHeader.put(f, is32 ? 46 : 58, shentsize, 2, bigEndian);
        ElfHeader.put(f, is32 ? 48 : 60, shnum, 2, bigEndian);
        ElfHeader.put(f, is32 ? 50 : 62, shnum - 1, 2, bigEndian);
        return f;
    }
}

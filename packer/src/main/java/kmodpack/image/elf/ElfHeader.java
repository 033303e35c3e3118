package kmodpack.image.elf;

/**
 * The fields of an ELF header the transform uses, for the four shapes it handles: 32- or 64-bit,
 * little- or big-endian. Section header fields are read from a table in any byte array.
 */
final class ElfHeader {
    static final int EHSIZE32 = 52;
    static final int EHSIZE64 = 64;
    private static final int SHENTSIZE32 = 40;
    private static final int SHENTSIZE64 = 64;

    final boolean is64;
    final boolean bigEndian;
    /** Bytes of the ELF header kept in the headers part: 52 or 64 by class, whatever e_ehsize says. */
    final int ehsize;
    final long shoff;
    final int shentsize;
    final int shnum;
    final int shstrndx;

    private ElfHeader(boolean is64, boolean bigEndian, long shoff, int shnum, int shstrndx) {
        this.is64 = is64;
        this.bigEndian = bigEndian;
        this.ehsize = is64 ? EHSIZE64 : EHSIZE32;
        this.shoff = shoff;
        this.shentsize = is64 ? SHENTSIZE64 : SHENTSIZE32;
        this.shnum = shnum;
        this.shstrndx = shstrndx;
    }

    /**
     * Reads the header at {@code at}, or returns null unless it is an ELF header with a section
     * header table of standard entries (e_shnum in 1..65279, e_shstrndx a real index).
     */
    static ElfHeader read(byte[] b, int at, int available) {
        if (available < EHSIZE32 || b[at] != 0x7f || b[at + 1] != 'E' || b[at + 2] != 'L' || b[at + 3] != 'F') {
            return null;
        }
        int cls = b[at + 4];
        int data = b[at + 5];
        if ((cls != 1 && cls != 2) || (data != 1 && data != 2)) {
            return null;
        }
        boolean is64 = cls == 2;
        boolean be = data == 2;
        if (is64 && available < EHSIZE64) {
            return null;
        }
        long shoff = is64 ? get64(b, at + 40, be) : get32(b, at + 32, be);
        int shentsize = get16(b, at + (is64 ? 58 : 46), be);
        int shnum = get16(b, at + (is64 ? 60 : 48), be);
        int shstrndx = get16(b, at + (is64 ? 62 : 50), be);
        // e_shnum 0 and e_shstrndx 0xffff mean "see section 0" (extended numbering): not handled.
        if (shentsize != (is64 ? SHENTSIZE64 : SHENTSIZE32) || shnum == 0 || shnum >= 0xff00
                || shstrndx == 0 || shstrndx >= shnum || shoff < 0) {
            return null;
        }
        return new ElfHeader(is64, be, shoff, shnum, shstrndx);
    }

    long shtLength() {
        return (long) shnum * shentsize;
    }

    int shName(byte[] b, int sht, int i) {
        return (int) get32(b, sht + i * shentsize, bigEndian);
    }

    int shType(byte[] b, int sht, int i) {
        return (int) get32(b, sht + i * shentsize + 4, bigEndian);
    }

    long shFlags(byte[] b, int sht, int i) {
        int at = sht + i * shentsize + 8;
        return is64 ? get64(b, at, bigEndian) : get32(b, at, bigEndian);
    }

    /** sh_offset; a 64-bit value over 2^63 comes back negative, which every range check refuses. */
    long shOffset(byte[] b, int sht, int i) {
        int at = sht + i * shentsize;
        return is64 ? get64(b, at + 24, bigEndian) : get32(b, at + 16, bigEndian);
    }

    long shSize(byte[] b, int sht, int i) {
        int at = sht + i * shentsize;
        return is64 ? get64(b, at + 32, bigEndian) : get32(b, at + 20, bigEndian);
    }

    static int get16(byte[] b, int at, boolean be) {
        return be ? (b[at] & 0xff) << 8 | (b[at + 1] & 0xff) : (b[at] & 0xff) | (b[at + 1] & 0xff) << 8;
    }

    static long get32(byte[] b, int at, boolean be) {
        return be ? (long) get16(b, at, true) << 16 | get16(b, at + 2, true)
                  : get16(b, at, false) | (long) get16(b, at + 2, false) << 16;
    }

    static long get64(byte[] b, int at, boolean be) {
        return be ? get32(b, at, true) << 32 | get32(b, at + 4, true)
                  : get32(b, at, false) | get32(b, at + 4, false) << 32;
    }

    static void put(byte[] b, int at, long v, int width, boolean be) {
        for (int k = 0; k < width; k++) {
            b[at + (be ? width - 1 - k : k)] = (byte) (v >>> (8 * k));
        }
    }

    static long get(byte[] b, int at, int width, boolean be) {
        return width == 8 ? get64(b, at, be) : get32(b, at, be);
    }
}

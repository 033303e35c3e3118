package kmodpack.image.elf;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

import kmodpack.image.ImageException;

/**
 * The plan of one file's split, computed from its headers part alone: where the ELF header, the
 * section header table and the section name table lie, which sections go whole to which stream,
 * and what is left for the "other" stream. Split and join both work from this one plan, so what
 * one writes the other reads back.
 *
 * <p>Headers part layout (docs/FORMAT.md, "ELF streams transform"):
 * <pre>
 *   0  u32 LE  length of the headers part
 *   4  u8      transform version (1)
 *   5  3 bytes 0
 *   8  u64 LE  length of the original file
 *  16  the ELF header (52 bytes for ELF32, 64 for ELF64), as in the file
 *      the section header table (e_shnum × e_shentsize bytes), as in the file
 *      the contents of section e_shstrndx, as in the file
 * </pre>
 */
final class ElfLayout {
    static final int PREFIX = 16;
    static final int VERSION = 1;

    private static final int SHT_SYMTAB = 2;
    private static final int SHT_STRTAB = 3;
    private static final int SHT_RELA = 4;
    private static final int SHT_NOBITS = 8;
    private static final int SHT_REL = 9;
    private static final long SHF_EXECINSTR = 0x4;

    /** Largest file the transform takes (a Java array). */
    private static final long MAX_FILE = Integer.MAX_VALUE - 64;

    /** One byte range of the file that goes whole (or column-transformed) to one stream. */
    record Piece(int section, long offset, long length, int stream, RelaColumns rela) {
    }

    private final byte[] part0;
    private final ElfHeader elf;
    private final long fileLength;
    /** Ranges of the file held in part 0: ELF header, section header table, section names. */
    private final long[][] reserved;
    /** The sections each stream holds, in stream order. */
    private final List<List<Piece>> pieces;

    private ElfLayout(byte[] part0, ElfHeader elf, long fileLength, long[][] reserved, List<List<Piece>> pieces) {
        this.part0 = part0;
        this.elf = elf;
        this.fileLength = fileLength;
        this.reserved = reserved;
        this.pieces = pieces;
    }

    // ---- building part 0 from a file ------------------------------------------------------------

    /** The headers part of a file, or null when it is not an ELF file this transform handles. */
    static byte[] headersOf(byte[] file) {
        ElfHeader elf = ElfHeader.read(file, 0, file.length);
        if (elf == null || file.length > MAX_FILE) {
            return null;
        }
        long shtLength = elf.shtLength();
        if (!inside(elf.shoff, shtLength, file.length)) {
            return null;
        }
        int shstr = elf.shstrndx;
        long strOff = elf.shOffset(file, (int) elf.shoff, shstr);
        long strLen = elf.shType(file, (int) elf.shoff, shstr) == SHT_NOBITS ? 0 : elf.shSize(file, (int) elf.shoff, shstr);
        if (strLen != 0 && !inside(strOff, strLen, file.length)) {
            return null;
        }
        long total = PREFIX + elf.ehsize + shtLength + strLen;
        if (total > MAX_FILE) {
            return null;
        }
        byte[] part0 = new byte[(int) total];
        putLE32(part0, 0, (int) total);
        part0[4] = VERSION;
        putLE64(part0, 8, file.length);
        System.arraycopy(file, 0, part0, PREFIX, elf.ehsize);
        System.arraycopy(file, (int) elf.shoff, part0, PREFIX + elf.ehsize, (int) shtLength);
        if (strLen != 0) {
            System.arraycopy(file, (int) strOff, part0, (int) (PREFIX + elf.ehsize + shtLength), (int) strLen);
        }
        return part0;
    }

    // ---- reading part 0 -------------------------------------------------------------------------

    static int headerLength(byte[] start) throws ImageException {
        if (start.length < ElfStreams.HEADER_LENGTH_BYTES) {
            throw new ImageException("ELF streams: headers part shorter than " + ElfStreams.HEADER_LENGTH_BYTES + " bytes");
        }
        long n = getLE32(start, 0);
        if (n < PREFIX + ElfHeader.EHSIZE32 || n > MAX_FILE) {
            throw new ImageException("ELF streams: headers part length " + n + " is out of range");
        }
        return (int) n;
    }

    /** Checks a headers part and computes the plan it describes. */
    static ElfLayout parse(byte[] part0) throws ImageException {
        if (part0.length < PREFIX) {
            throw bad("headers part of " + part0.length + " bytes is too short");
        }
        if (getLE32(part0, 0) != part0.length) {
            throw bad("headers part says it is " + getLE32(part0, 0) + " bytes long but is " + part0.length);
        }
        if (part0[4] != VERSION || part0[5] != 0 || part0[6] != 0 || part0[7] != 0) {
            throw bad("unknown transform version " + (part0[4] & 0xff));
        }
        long fileLength = getLE64(part0, 8);
        if (fileLength < 0 || fileLength > MAX_FILE) {
            throw bad("file length " + Long.toUnsignedString(fileLength) + " is out of range");
        }
        ElfHeader elf = ElfHeader.read(part0, PREFIX, part0.length - PREFIX);
        if (elf == null) {
            throw bad("headers part does not hold an ELF header this transform handles");
        }
        long shtLength = elf.shtLength();
        int shtAt = PREFIX + elf.ehsize;
        if (shtAt + shtLength > part0.length) {
            throw bad("section header table is cut short");
        }
        int sht = shtAt;
        int shstr = elf.shstrndx;
        long strOff = elf.shOffset(part0, sht, shstr);
        long strLen = elf.shType(part0, sht, shstr) == SHT_NOBITS ? 0 : elf.shSize(part0, sht, shstr);
        if (strLen < 0 || PREFIX + elf.ehsize + shtLength + strLen != part0.length) {
            throw bad("headers part length does not match its section name table");
        }
        if (elf.ehsize > fileLength || !inside(elf.shoff, shtLength, fileLength)
                || (strLen != 0 && !inside(strOff, strLen, fileLength))) {
            throw bad("header tables lie outside the file");
        }
        long[][] reserved = {
            {0, elf.ehsize},
            {elf.shoff, shtLength},
            {strLen == 0 ? 0 : strOff, strLen},
        };
        if (overlaps(reserved[0], reserved[1]) || overlaps(reserved[0], reserved[2]) || overlaps(reserved[1], reserved[2])) {
            throw bad("ELF header, section header table and section names overlap");
        }
        int strAt = (int) (shtAt + shtLength);
        return new ElfLayout(part0, elf, fileLength, reserved,
                plan(part0, elf, sht, strAt, (int) strLen, fileLength, reserved));
    }

    /** Which sections go whole to which stream: a pure function of the headers part. */
    private static List<List<Piece>> plan(byte[] h, ElfHeader elf, int sht, int strAt, int strLen,
                                          long fileLength, long[][] reserved) {
        List<Piece> candidates = new ArrayList<>();
        for (int i = 0; i < elf.shnum; i++) {
            if (i == elf.shstrndx) {
                continue;
            }
            int type = elf.shType(h, sht, i);
            long off = elf.shOffset(h, sht, i);
            long size = elf.shSize(h, sht, i);
            if (type == SHT_NOBITS || size == 0 || !inside(off, size, fileLength)) {
                continue;
            }
            RelaColumns rela = null;
            int stream;
            if (type == SHT_RELA || type == SHT_REL) {
                rela = RelaColumns.of(elf, type == SHT_RELA);
                stream = size % rela.entrySize() == 0 ? ElfStreams.RELA : ElfStreams.OTHER;
            } else if (type == SHT_SYMTAB || type == SHT_STRTAB) {
                stream = ElfStreams.SYMTAB;
            } else if (nameIs(h, strAt, strLen, elf.shName(h, sht, i), ".BTF")) {
                stream = ElfStreams.BTF;
            } else if ((elf.shFlags(h, sht, i) & SHF_EXECINSTR) != 0) {
                stream = ElfStreams.CODE;
            } else {
                stream = ElfStreams.OTHER;
            }
            if (stream == ElfStreams.OTHER) {
                continue;
            }
            long[] range = {off, size};
            if (overlaps(range, reserved[0]) || overlaps(range, reserved[1]) || overlaps(range, reserved[2])) {
                continue;
            }
            candidates.add(new Piece(i, off, size, stream, stream == ElfStreams.RELA ? rela : null));
        }
        // Sections that overlap one another stay in "other": the first one in file order wins.
        candidates.sort(Comparator.comparingLong(Piece::offset).thenComparingInt(Piece::section));
        List<List<Piece>> streams = new ArrayList<>();
        for (int s = 0; s < ElfStreams.STREAMS; s++) {
            streams.add(new ArrayList<>());
        }
        long end = 0;
        for (Piece p : candidates) {
            if (p.offset() >= end) {
                streams.get(p.stream()).add(p);
                end = p.offset() + p.length();
            }
        }
        for (List<Piece> s : streams) {
            s.sort(Comparator.comparingInt(Piece::section));
        }
        return streams;
    }

    // ---- the plan at work -----------------------------------------------------------------------

    long[] partLengths() {
        long[] lengths = new long[ElfStreams.STREAMS];
        lengths[0] = part0.length;
        long held = reserved[0][1] + reserved[1][1] + reserved[2][1];
        for (int s = 1; s < ElfStreams.STREAMS; s++) {
            for (Piece p : pieces.get(s)) {
                lengths[s] += p.length();
            }
            held += lengths[s];
        }
        lengths[ElfStreams.OTHER] = fileLength - held;
        return lengths;
    }

    /** Every range the headers part and the section streams hold, in file order. */
    private List<long[]> heldRanges() {
        List<long[]> held = new ArrayList<>();
        for (long[] r : reserved) {
            if (r[1] > 0) {
                held.add(r);
            }
        }
        for (List<Piece> s : pieces) {
            for (Piece p : s) {
                held.add(new long[] {p.offset(), p.length()});
            }
        }
        held.sort(Comparator.comparingLong(r -> r[0]));
        return held;
    }

    byte[][] split(byte[] file, byte[] part0) {
        long[] lengths = partLengths();
        byte[][] parts = new byte[ElfStreams.STREAMS][];
        parts[0] = part0;
        for (int s = 1; s < ElfStreams.STREAMS; s++) {
            parts[s] = new byte[(int) lengths[s]];
            int at = 0;
            for (Piece p : pieces.get(s)) {
                if (p.rela() != null) {
                    p.rela().encode(file, (int) p.offset(), (int) p.length(), parts[s], at);
                } else {
                    System.arraycopy(file, (int) p.offset(), parts[s], at, (int) p.length());
                }
                at += (int) p.length();
            }
        }
        byte[] other = parts[ElfStreams.OTHER];
        int at = 0;
        long pos = 0;
        for (long[] r : heldRanges()) {
            int gap = (int) (r[0] - pos);
            System.arraycopy(file, (int) pos, other, at, gap);
            at += gap;
            pos = r[0] + r[1];
        }
        System.arraycopy(file, (int) pos, other, at, (int) (fileLength - pos));
        return parts;
    }

    byte[] join(byte[][] parts) throws ImageException {
        long[] lengths = partLengths();
        for (int s = 1; s < ElfStreams.STREAMS; s++) {
            if (parts[s].length != lengths[s]) {
                throw bad("part " + s + " (" + ElfStreams.STREAM_NAMES.get(s) + ") is " + parts[s].length
                        + " bytes, the headers say " + lengths[s]);
            }
        }
        byte[] file = new byte[(int) fileLength];
        int ehsize = elf.ehsize;
        int shtLength = (int) reserved[1][1];
        System.arraycopy(part0, PREFIX, file, 0, ehsize);
        System.arraycopy(part0, PREFIX + ehsize, file, (int) reserved[1][0], shtLength);
        System.arraycopy(part0, PREFIX + ehsize + shtLength, file, (int) reserved[2][0], (int) reserved[2][1]);
        for (int s = 1; s < ElfStreams.STREAMS; s++) {
            int at = 0;
            for (Piece p : pieces.get(s)) {
                if (p.rela() != null) {
                    p.rela().decode(parts[s], at, (int) p.length(), file, (int) p.offset());
                } else {
                    System.arraycopy(parts[s], at, file, (int) p.offset(), (int) p.length());
                }
                at += (int) p.length();
            }
        }
        byte[] other = parts[ElfStreams.OTHER];
        int at = 0;
        long pos = 0;
        for (long[] r : heldRanges()) {
            int gap = (int) (r[0] - pos);
            System.arraycopy(other, at, file, (int) pos, gap);
            at += gap;
            pos = r[0] + r[1];
        }
        System.arraycopy(other, at, file, (int) pos, (int) (fileLength - pos));
        return file;
    }

    /** The length of the file the parts rebuild, as part 0 says. */
    long fileLength() {
        return fileLength;
    }

    /** The plan's pieces per stream (for tests and measurements). */
    List<List<Piece>> pieces() {
        return pieces;
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** Whether [off, off + len) lies within [0, limit), for unsigned 64-bit off and len. */
    static boolean inside(long off, long len, long limit) {
        return off >= 0 && len >= 0 && off <= limit && len <= limit - off;
    }

    private static boolean overlaps(long[] a, long[] b) {
        return a[1] > 0 && b[1] > 0 && a[0] < b[0] + b[1] && b[0] < a[0] + a[1];
    }

    private static boolean nameIs(byte[] h, int strAt, int strLen, long nameOff, String name) {
        if (nameOff < 0 || nameOff + name.length() >= strLen) {
            return false;
        }
        int at = strAt + (int) nameOff;
        for (int k = 0; k < name.length(); k++) {
            if (h[at + k] != name.charAt(k)) {
                return false;
            }
        }
        return h[at + name.length()] == 0;
    }

    private static ImageException bad(String what) {
        return new ImageException("ELF streams: " + what);
    }

    static long getLE32(byte[] b, int at) {
        return (b[at] & 0xffL) | (b[at + 1] & 0xffL) << 8 | (b[at + 2] & 0xffL) << 16 | (b[at + 3] & 0xffL) << 24;
    }

    static long getLE64(byte[] b, int at) {
        return getLE32(b, at) | getLE32(b, at + 4) << 32;
    }

    private static void putLE32(byte[] b, int at, int v) {
        for (int k = 0; k < 4; k++) {
            b[at + k] = (byte) (v >>> (8 * k));
        }
    }

    private static void putLE64(byte[] b, int at, long v) {
        for (int k = 0; k < 8; k++) {
            b[at + k] = (byte) (v >>> (8 * k));
        }
    }

    @Override
    public String toString() {
        return "ElfLayout" + Arrays.toString(partLengths());
    }
}

package kmodpack.image.elf;

/**
 * The column transform of a relocation table (SHT_RELA or SHT_REL). Entries
 * {@code {r_offset, r_info[, r_addend]}} of word size w (8 for ELF64, 4 for ELF32) become
 * columns: all r_offset deltas, then all r_info, then all r_addend deltas, each value a w-byte
 * word in the file's byte order and all arithmetic modulo 2^(8w).
 * <ul>
 * <li>r_offset is coded as the difference from the previous entry's r_offset (the first from 0):
 *     tables are sorted by offset, so the column holds small, repeating steps;</li>
 * <li>r_info is kept as it is;</li>
 * <li>r_addend is coded as the difference from the addend of the last earlier entry of the same
 *     table with the same symbol (r_info's symbol field; 0 when there is none): code-site tables
 *     (.orc_unwind_ip, __mcount_loc, __patchable_function_entries, __bug_table...) point into one
 *     section symbol at rising addends, and calls to functions repeat the same addend.</li>
 * </ul>
 * The result has the same length as the table.
 */
final class RelaColumns {
    private final int word;
    private final int columns;
    private final boolean bigEndian;

    private RelaColumns(int word, int columns, boolean bigEndian) {
        this.word = word;
        this.columns = columns;
        this.bigEndian = bigEndian;
    }

    static RelaColumns of(ElfHeader elf, boolean withAddend) {
        return new RelaColumns(elf.is64 ? 8 : 4, withAddend ? 3 : 2, elf.bigEndian);
    }

    int entrySize() {
        return word * columns;
    }

    private long mask() {
        return word == 8 ? -1L : 0xffffffffL;
    }

    private long symbol(long info) {
        return word == 8 ? info >>> 32 : info >>> 8;
    }

    /** Table bytes {@code src[at, at + len)} to columns at {@code dst[to...]}. */
    void encode(byte[] src, int at, int len, byte[] dst, int to) {
        int n = len / entrySize();
        long prevOffset = 0;
        LastAddends lastAddend = columns == 3 ? new LastAddends() : null;
        for (int j = 0; j < n; j++) {
            int e = at + j * entrySize();
            long offset = ElfHeader.get(src, e, word, bigEndian);
            long info = ElfHeader.get(src, e + word, word, bigEndian);
            ElfHeader.put(dst, to + j * word, (offset - prevOffset) & mask(), word, bigEndian);
            ElfHeader.put(dst, to + (n + j) * word, info, word, bigEndian);
            prevOffset = offset;
            if (columns == 3) {
                long addend = ElfHeader.get(src, e + 2 * word, word, bigEndian);
                long last = lastAddend.get(symbol(info));
                lastAddend.put(symbol(info), addend);
                ElfHeader.put(dst, to + (2 * n + j) * word, (addend - last) & mask(), word, bigEndian);
            }
        }
    }

    /** Columns {@code src[at, at + len)} back to table bytes at {@code dst[to...]}. */
    void decode(byte[] src, int at, int len, byte[] dst, int to) {
        int n = len / entrySize();
        long offset = 0;
        LastAddends lastAddend = columns == 3 ? new LastAddends() : null;
        for (int j = 0; j < n; j++) {
            int e = to + j * entrySize();
            offset = (offset + ElfHeader.get(src, at + j * word, word, bigEndian)) & mask();
            long info = ElfHeader.get(src, at + (n + j) * word, word, bigEndian);
            ElfHeader.put(dst, e, offset, word, bigEndian);
            ElfHeader.put(dst, e + word, info, word, bigEndian);
            if (columns == 3) {
                long addend = (lastAddend.get(symbol(info)) + ElfHeader.get(src, at + (2 * n + j) * word, word, bigEndian)) & mask();
                lastAddend.put(symbol(info), addend);
                ElfHeader.put(dst, e + 2 * word, addend, word, bigEndian);
            }
        }
    }
}

package kmodpack.image.elf;

import java.util.List;
import java.util.Objects;

import kmodpack.image.ImageException;

/**
 * Reversible split of one file into the image format's cold-data streams (docs/FORMAT.md, "ELF
 * streams transform"). An ELF object is cut along its sections: machine code, relocation tables
 * (rewritten column by column), BTF type data, the symbol and string tables, and the rest each
 * go to their own stream, where LZMA2 finds longer and nearer matches than in whole files.
 *
 * <p>Part 0 ("headers") holds the ELF header, the section header table and the section name
 * table; which bytes of the file each other part holds follows from part 0 alone, so a reader
 * needs nothing else to know the parts' lengths or to rebuild the file. Files this transform does
 * not understand are refused by {@link #split} (stored as they are); any section it is not sure
 * to rebuild exactly stays, byte for byte, in the "other" stream.
 */
public final class ElfStreams {
    private ElfStreams() {
    }

    /** The streams, in part order; index 0 is the headers part. */
    public static final List<String> STREAM_NAMES = List.of("headers", "code", "rela", "btf", "symtab", "other");

    static final int HEADERS = 0;
    static final int CODE = 1;
    static final int RELA = 2;
    static final int BTF = 3;
    static final int SYMTAB = 4;
    static final int OTHER = 5;
    static final int STREAMS = 6;

    /** How many first bytes of part 0 {@link #headerLength} needs. */
    public static final int HEADER_LENGTH_BYTES = 4;

    /**
     * Splits a file into one part per stream, or returns null when it is not an ELF file whose
     * section layout this transform handles (the caller then stores it as it is). Never throws
     * for any non-null input.
     */
    public static byte[][] split(byte[] file) {
        Objects.requireNonNull(file, "file");
        byte[] part0 = ElfLayout.headersOf(file);
        if (part0 == null) {
            return null;
        }
        ElfLayout layout;
        try {
            layout = ElfLayout.parse(part0);
        } catch (ImageException e) {
            return null;    // a shape the plan refuses (overlapping header tables and the like)
        }
        return layout.split(file, part0);
    }

    /**
     * The length of every part (index 0 is part 0's own length) as part 0 describes them.
     *
     * @throws ImageException when part 0 is not a valid headers part
     */
    public static long[] partLengths(byte[] part0) throws ImageException {
        Objects.requireNonNull(part0, "part0");
        return ElfLayout.parse(part0).partLengths();
    }

    /**
     * The length of part 0, from its first {@link #HEADER_LENGTH_BYTES} bytes.
     *
     * @throws ImageException when fewer bytes are given or they cannot start a headers part
     */
    public static int headerLength(byte[] start) throws ImageException {
        Objects.requireNonNull(start, "start");
        return ElfLayout.headerLength(start);
    }

    /**
     * Rebuilds the original file from its parts, checking that they agree with each other.
     *
     * @throws ImageException when the parts are inconsistent (they come from an untrusted image)
     */
    public static byte[] join(byte[][] parts) throws ImageException {
        Objects.requireNonNull(parts, "parts");
        if (parts.length != STREAMS) {
            throw new ImageException("ELF streams: " + parts.length + " parts instead of " + STREAMS);
        }
        for (int i = 0; i < STREAMS; i++) {
            if (parts[i] == null) {
                throw new ImageException("ELF streams: part " + i + " (" + STREAM_NAMES.get(i) + ") is missing");
            }
        }
        return ElfLayout.parse(parts[0]).join(parts);
    }
}

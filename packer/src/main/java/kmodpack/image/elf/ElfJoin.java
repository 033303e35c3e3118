package kmodpack.image.elf;

import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

import kmodpack.image.ImageException;
import kmodpack.image.SpareCores;

/**
 * Reads one file stored with the ELF streams transform (docs/FORMAT.md, "ELF streams transform"
 * and "Reading a file") back from an image: its six parts start where its part start row says,
 * part 0 tells the lengths of the others, and the parts join into the file's bytes. The image
 * is untrusted: every start and length is checked against the streams before anything is read
 * or allocated for it, and parts that disagree with part 0's plan are refused.
 *
 * <p>How a part's bytes come out of the streams (blocks, codecs, caches) is the caller's
 * business, behind {@link Parts}.
 */
public final class ElfJoin {
    private ElfJoin() {
    }

    /** The streams an ELF file's parts lie in, as the image stores them. */
    public interface Parts {
        /** The raw length of the stream that holds part {@code part} (0..5): a part must end inside it. */
        long streamLength(int part);

        /**
         * Reads bytes {@code [start, start + len)} of the stream that holds part {@code part} into
         * {@code dst[off...]}. The range has been checked to lie inside the stream. May be called
         * from several threads at once, for different parts.
         */
        void read(int part, long start, byte[] dst, int off, int len) throws IOException;
    }

    /** Parts in a stream: number of parts of the transform. */
    public static final int PARTS = ElfStreams.STREAMS;

    /**
     * The bytes of a file of {@code size} bytes (as its index entry says) whose parts start at
     * {@code starts[i]} in the stream of part i. Parts 1 to 5 are read on spare cores at once.
     *
     * @throws ImageException when the starts, part 0 or the part lengths are inconsistent
     */
    public static byte[] read(long[] starts, long size, Parts parts) throws IOException {
        Objects.requireNonNull(starts, "starts");
        if (starts.length != PARTS) {
            throw new IllegalArgumentException(starts.length + " part starts instead of " + PARTS);
        }
        for (int i = 0; i < PARTS; i++) {
            long limit = parts.streamLength(i);
            if (starts[i] < 0 || starts[i] > limit) {
                throw bad("part " + i + " (" + ElfStreams.STREAM_NAMES.get(i) + ") starts at "
                        + Long.toUnsignedString(starts[i]) + ", past the end of its stream (" + limit + " bytes)");
            }
        }
        byte[] first = range(parts, 0, starts[0], ElfStreams.HEADER_LENGTH_BYTES);
        int headerLength = ElfStreams.headerLength(first);
        byte[][] all = new byte[PARTS][];
        all[0] = range(parts, 0, starts[0], headerLength);
        ElfLayout layout = ElfLayout.parse(all[0]);
        if (layout.fileLength() != size) {
            throw bad("the parts make a file of " + layout.fileLength() + " bytes, its entry says " + size);
        }
        long[] lengths = layout.partLengths();
        for (int i = 1; i < PARTS; i++) {
            check(parts, i, starts[i], lengths[i]);
        }
        readParts(starts, lengths, parts, all);
        return layout.join(all);
    }

    /** Parts 1..5: each worker takes the next part not yet taken; the caller works too. */
    private static void readParts(long[] starts, long[] lengths, Parts parts, byte[][] all) throws IOException {
        AtomicInteger next = new AtomicInteger(1);
        java.util.concurrent.Callable<Void> worker = () -> {
            for (int i; (i = next.getAndIncrement()) < PARTS; ) {
                byte[] b = new byte[(int) lengths[i]];
                if (b.length > 0) {
                    parts.read(i, starts[i], b, 0, b.length);
                }
                all[i] = b;
            }
            return null;
        };
        int busy = 0;
        for (int i = 1; i < PARTS; i++) {
            busy += lengths[i] > 0 ? 1 : 0;
        }
        SpareCores.run(busy - 1, "ELF streams", worker);
    }

    private static byte[] range(Parts parts, int part, long start, int len) throws IOException {
        check(parts, part, start, len);
        byte[] b = new byte[len];
        parts.read(part, start, b, 0, len);
        return b;
    }

    private static void check(Parts parts, int part, long start, long len) throws ImageException {
        long limit = parts.streamLength(part);
        if (len < 0 || len > limit - start) {
            throw bad("part " + part + " (" + ElfStreams.STREAM_NAMES.get(part) + ") of " + len + " bytes at "
                    + start + " runs past the end of its stream (" + limit + " bytes)");
        }
    }

    private static ImageException bad(String what) {
        return new ImageException("ELF streams: " + what);
    }
}

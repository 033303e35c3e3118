package kmodpack.image.elf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

import kmodpack.image.ImageException;
import org.junit.jupiter.api.Test;

/**
 * Reading a file back from its parts through {@link ElfJoin.Parts}: several files share the
 * streams, as in an image, and the starts, lengths and part 0 come from an untrusted image.
 */
class ElfJoinTest {

    /** Six in-memory streams with several files' parts back to back, and each file's start row. */
    static final class Streams implements ElfJoin.Parts {
        final ByteArrayOutputStream[] streams = new ByteArrayOutputStream[ElfJoin.PARTS];
        byte[][] bytes;
        final AtomicInteger reads = new AtomicInteger();

        Streams() {
            for (int i = 0; i < streams.length; i++) {
                streams[i] = new ByteArrayOutputStream();
                streams[i].writeBytes(new byte[7 * (i + 1)]);     // each stream starts with other data
            }
        }

        long[] add(byte[] file) {
            byte[][] parts = ElfStreams.split(file);
            long[] starts = new long[ElfJoin.PARTS];
            for (int i = 0; i < parts.length; i++) {
                starts[i] = streams[i].size();
                streams[i].writeBytes(parts[i]);
            }
            return starts;
        }

        Streams seal() {
            bytes = new byte[ElfJoin.PARTS][];
            for (int i = 0; i < streams.length; i++) {
                bytes[i] = streams[i].toByteArray();
            }
            return this;
        }

        @Override
        public long streamLength(int part) {
            return bytes[part].length;
        }

        @Override
        public void read(int part, long start, byte[] dst, int off, int len) {
            reads.incrementAndGet();
            System.arraycopy(bytes[part], (int) start, dst, off, len);
        }
    }

    @Test
    void filesSharingStreamsReadBack() throws IOException {
        byte[][] files = {TinyElf.build(false, false), TinyElf.build(true, false), TinyElf.build(false, true),
                TinyElf.build(true, true)};
        Streams s = new Streams();
        long[][] starts = new long[files.length][];
        for (int f = 0; f < files.length; f++) {
            starts[f] = s.add(files[f]);
        }
        s.seal();
        for (int f = files.length - 1; f >= 0; f--) {
            assertArrayEquals(files[f], ElfJoin.read(starts[f], files[f].length, s), "file " + f);
        }
    }

    @Test
    void inconsistentStartsAndLengthsAreImageErrors() throws IOException {
        byte[] file = TinyElf.build(false, false);
        Streams s = new Streams();
        long[] first = s.add(file);
        long[] second = s.add(TinyElf.build(true, false));
        s.seal();
        // the entry's size disagrees with part 0
        assertThrows(ImageException.class, () -> ElfJoin.read(first, file.length + 1, s));
        // a start past its stream's end, or negative (an unsigned value over 2^63)
        for (int i = 0; i < ElfJoin.PARTS; i++) {
            long[] bad = first.clone();
            bad[i] = s.streamLength(i) + 1;
            assertThrows(ImageException.class, () -> ElfJoin.read(bad, file.length, s), "part " + i);
            bad[i] = Long.MIN_VALUE;
            assertThrows(ImageException.class, () -> ElfJoin.read(bad, file.length, s), "part " + i);
        }
        // a part whose plan runs past the end of its stream: the last file's parts, moved to the end
        for (int i = 0; i < ElfJoin.PARTS; i++) {
            long[] bad = second.clone();
            long len = s.streamLength(i) - second[i];
            if (i > 0 && len > 0) {
                bad[i] = second[i] + 1;
                assertThrows(ImageException.class, () -> ElfJoin.read(bad, TinyElf.build(true, false).length, s),
                        "part " + i);
            }
        }
        // starts that point at the wrong file's parts: lengths or contents disagree with part 0
        long[] mixed = first.clone();
        mixed[0] = second[0];
        assertThrows(ImageException.class, () -> ElfJoin.read(mixed, file.length, s));
        // part 0 not at its start: garbage where its length should be
        long[] shifted = first.clone();
        shifted[0] += 1;
        assertThrows(ImageException.class, () -> ElfJoin.read(shifted, file.length, s));
        long[] zero = first.clone();
        zero[0] = 0;   // the zeros in front of the parts: a headers part of length 0
        assertThrows(ImageException.class, () -> ElfJoin.read(zero, file.length, s));
    }

    @Test
    void partLengthsThatDisagreeWithThePlanAreRefused() throws IOException {
        byte[] file = TinyElf.build(false, false);
        byte[][] parts = ElfStreams.split(file);
        // part 0 says the file is longer than its pieces: "other" must be longer, and is not
        byte[] longer = parts[0].clone();
        long n = ElfLayout.getLE64(longer, 8) + 5;
        for (int k = 0; k < 8; k++) {
            longer[8 + k] = (byte) (n >>> (8 * k));
        }
        Streams s = new Streams();
        long[] starts = new long[ElfJoin.PARTS];
        for (int i = 0; i < parts.length; i++) {
            starts[i] = s.streams[i].size();
            s.streams[i].writeBytes(i == 0 ? longer : parts[i]);
        }
        s.seal();
        // the stream "other" ends where the short part ends: the longer plan runs past it
        assertThrows(ImageException.class, () -> ElfJoin.read(starts, n, s));
        assertThrows(ImageException.class, () -> ElfJoin.read(starts, file.length, s));
    }

    @Test
    void cacheKeepsRecentFilesWithinItsBudgetAndSharesOneJoin() throws IOException {
        JoinedFileCache cache = new JoinedFileCache(100);
        AtomicInteger joins = new AtomicInteger();
        byte[] a = cache.get(1, () -> {
            joins.incrementAndGet();
            return new byte[60];
        });
        assertSame(a, cache.get(1, () -> {
            throw new AssertionError("joined again");
        }));
        cache.get(2, () -> new byte[30]);
        assertTrue(cache.holds(1) && cache.holds(2));
        cache.get(3, () -> new byte[30]);       // 120 bytes: the least recently used goes
        assertFalse(cache.holds(1));
        assertTrue(cache.holds(2) && cache.holds(3));
        cache.get(4, () -> new byte[101]);      // over the budget: kept alone, as the last one joined
        assertTrue(cache.holds(4));
        assertFalse(cache.holds(2) || cache.holds(3));
        cache.get(6, () -> new byte[10]);
        assertTrue(cache.holds(6) && !cache.holds(4));
        assertThrows(ImageException.class, () -> cache.get(5, () -> {
            throw new ImageException("damaged");
        }));
        assertFalse(cache.holds(5));
        assertArrayEquals(new byte[7], cache.get(5, () -> new byte[7]), "a failed join is not remembered");
        assertTrue(joins.get() == 1 && Arrays.equals(a, new byte[60]));
    }
}

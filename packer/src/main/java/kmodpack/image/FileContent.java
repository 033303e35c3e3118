package kmodpack.image;

import java.io.IOException;

import kmodpack.image.elf.ElfJoin;
import kmodpack.image.elf.ElfStreams;
import kmodpack.image.elf.JoinedFileCache;

/**
 * A regular file's bytes as its transform (FORMAT.md, Streams) makes them from ranges of the
 * image's streams. {@link ModuleImage#content} picks the implementation by transform id; the
 * index has checked on open that every range a file's transform names lies in its stream.
 */
interface FileContent {
    /** Copies file bytes {@code [offset, offset + len)}, which lie inside the file, into {@code dst}. */
    void read(long offset, byte[] dst, int off, int len) throws IOException;

    /** Copies the whole file into {@code out}, which is exactly the file's size. */
    void readAll(byte[] out) throws IOException;

    /** The blocks the file's bytes come from, in ascending order (for verify and prefetch). */
    int[] blocks();

    /** The block that holds file byte {@code offset}, for read-ahead; -1 when no one block does. */
    int blockAt(long offset);

    /** Transform 0, identity: the file is the stream's bytes {@code [location, location + size)}. */
    record StreamRange(BlockStore store, StreamInfo stream, long location, long size) implements FileContent {
        @Override
        public void read(long offset, byte[] dst, int off, int len) throws IOException {
            store.read(stream, location + offset, dst, off, len, location + size);
        }

        @Override
        public void readAll(byte[] out) throws IOException {
            store.readRange(stream, location, out, 0, out.length);
        }

        @Override
        public int[] blocks() {
            if (size == 0) {
                return new int[0];
            }
            int first = stream.blockAt(location);
            int last = stream.blockAt(location + size - 1);
            int[] r = new int[last - first + 1];
            for (int i = 0; i < r.length; i++) {
                r[i] = first + i;
            }
            return r;
        }

        @Override
        public int blockAt(long offset) {
            return stream.blockAt(location + offset);
        }
    }

    /**
     * Transform 1, ELF streams: the file is joined from six parts, part i in {@code streams[i]}
     * from {@code starts[i]} (FORMAT.md, "ELF streams transform"). Reads of any size take the
     * joined file from {@code joined}, so FUSE's many small reads of a module join it once.
     */
    record ElfParts(BlockStore store, StreamInfo[] streams, long[] starts, long size, int entry, JoinedFileCache joined)
            implements FileContent {
        private byte[] file() throws IOException {
            return joined.get(entry, () -> ElfJoin.read(starts, size, new ElfJoin.Parts() {
                @Override
                public long streamLength(int part) {
                    return streams[part].rawLength();
                }

                @Override
                public void read(int part, long start, byte[] dst, int off, int len) throws IOException {
                    // whole blocks where the part covers them, a prefix where it ends: FORMAT.md, Reading a file
                    store.readRange(streams[part], start, dst, off, len);
                }
            }));
        }

        @Override
        public void read(long offset, byte[] dst, int off, int len) throws IOException {
            System.arraycopy(file(), (int) offset, dst, off, len);
        }

        @Override
        public void readAll(byte[] out) throws IOException {
            System.arraycopy(file(), 0, out, 0, out.length);
        }

        @Override
        public int[] blocks() {
            java.util.TreeSet<Integer> blocks = new java.util.TreeSet<>();
            long[] lengths = null;
            try {
                lengths = partLengths();
            } catch (IOException | RuntimeException e) {
                // part 0 cannot be read: the blocks the parts start in are all that is known
            }
            for (int i = 0; i < starts.length; i++) {
                long len = lengths == null ? 1 : lengths[i];
                if (len > 0 && starts[i] < streams[i].rawLength()) {
                    long end = Math.min(streams[i].rawLength(), starts[i] + len);
                    for (int b = streams[i].blockAt(starts[i]); b <= streams[i].blockAt(end - 1); b++) {
                        blocks.add(b);
                    }
                }
            }
            return blocks.stream().mapToInt(Integer::intValue).toArray();
        }

        private long[] partLengths() throws IOException {
            byte[] first = new byte[ElfStreams.HEADER_LENGTH_BYTES];
            if (starts[0] > streams[0].rawLength() - first.length) {
                throw new ImageException("part 0 runs past its stream");
            }
            store.read(streams[0], starts[0], first, 0, first.length);
            int n = ElfStreams.headerLength(first);
            if (starts[0] > streams[0].rawLength() - n) {
                throw new ImageException("part 0 runs past its stream");
            }
            byte[] part0 = new byte[n];
            store.read(streams[0], starts[0], part0, 0, n);
            return ElfStreams.partLengths(part0);
        }

        @Override
        public int blockAt(long offset) {
            return -1;
        }
    }
}

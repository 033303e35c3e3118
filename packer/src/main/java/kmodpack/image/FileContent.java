package kmodpack.image;

import java.io.IOException;

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
}

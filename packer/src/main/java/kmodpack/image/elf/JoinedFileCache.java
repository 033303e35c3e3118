package kmodpack.image.elf;

import java.io.IOException;
import java.util.LinkedHashMap;

import kmodpack.image.SharedWork;

/**
 * The last few files joined from their ELF parts, by entry: FUSE reads a module in many small
 * pieces (128 KiB at most each), and joining it again for each would decode and copy its six
 * parts as often. Least recently used files go first once the cache holds more than its byte
 * budget, but the file joined last always stays, however large; threads that want the same file
 * at once share one join. The arrays handed out are
 * shared: callers copy from them and never write to them.
 */
public final class JoinedFileCache {
    /** Makes a file's bytes. */
    @FunctionalInterface
    public interface Joiner {
        byte[] join() throws IOException;
    }

    private final long budget;
    private long held;
    private final LinkedHashMap<Integer, byte[]> files = new LinkedHashMap<>(16, 0.75f, true);
    private final SharedWork<Integer, byte[]> joins = new SharedWork<>("entry", this, new SharedWork.Cache<>() {
        @Override
        public byte[] find(Integer entry) {
            return files.get(entry);
        }

        @Override
        public void store(Integer entry, byte[] file) {
            files.put(entry, file);
            held += file.length;
            var it = files.values().iterator();
            // the file joined last stays, whatever its size: the next read is most likely its next piece
            while (held > budget && files.size() > 1) {
                held -= it.next().length;
                it.remove();
            }
        }
    });

    /** A cache that holds at most {@code budget} bytes of files, or the one file joined last. */
    public JoinedFileCache(long budget) {
        this.budget = budget;
    }

    /** The file of entry {@code entry}, from the cache or joined now. */
    public byte[] get(int entry, Joiner joiner) throws IOException {
        return joins.get(entry, joiner::join);
    }

    /** Whether entry's file is in the cache now (for tests). */
    public synchronized boolean holds(int entry) {
        return files.containsKey(entry);
    }
}

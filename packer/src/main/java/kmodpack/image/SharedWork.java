package kmodpack.image;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.HashMap;
import java.util.Map;

/**
 * A cache in front of slow work (decoding a block, joining a module) where threads that want the
 * same key at once share one run: the first computes, the others wait for its result or its
 * failure. The caller's cache is looked up and filled under {@code lock}, the same lock that
 * guards the runs in progress, so a result is never computed twice.
 */
public final class SharedWork<K, V> {
    /** The slow work. */
    @FunctionalInterface
    public interface Work<V> {
        V run() throws IOException;
    }

    /** Looks up or stores a result; called with {@code lock} held. */
    public interface Cache<K, V> {
        V find(K key);

        void store(K key, V value);
    }

    private final String keyName;
    private final Object lock;
    private final Cache<K, V> cache;
    private final Map<K, Outcome<V>> running = new HashMap<>();

    /** {@code keyName} names a key in messages ("block", "entry"). */
    public SharedWork(String keyName, Object lock, Cache<K, V> cache) {
        this.keyName = keyName;
        this.lock = lock;
        this.cache = cache;
    }

    /** Whether a run for {@code key} is in progress; call with {@code lock} held. */
    public boolean isRunning(K key) {
        return running.containsKey(key);
    }

    /** The cached result for {@code key}, the result of a run in progress, or {@code work}'s, stored. */
    public V get(K key, Work<V> work) throws IOException {
        Outcome<V> mine;
        Outcome<V> theirs;
        synchronized (lock) {
            V hit = cache.find(key);
            if (hit != null) {
                return hit;
            }
            theirs = running.get(key);
            mine = theirs == null ? new Outcome<>() : null;
            if (mine != null) {
                running.put(key, mine);
            }
        }
        if (theirs != null) {
            try {
                theirs.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException("interrupted");
            }
            Throwable f = theirs.failure();
            if (f == null) {
                return theirs.value();
            }
            if (f instanceof IOException io) {
                throw io;
            }
            if (f instanceof Error err) {
                throw err;
            }
            throw new ImageException(keyName + " " + key + ": " + f, f);
        }
        V value;
        try {
            value = work.run();
        } catch (IOException | RuntimeException | Error e) {
            synchronized (lock) {
                running.remove(key);
            }
            mine.set(null, e);
            throw e;
        }
        synchronized (lock) {
            cache.store(key, value);
            running.remove(key);
        }
        mine.set(value, null);
        return value;
    }
}

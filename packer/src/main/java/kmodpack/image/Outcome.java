package kmodpack.image;

/**
 * One result, a value or a failure, set once by the thread that computes it and awaited by
 * others (a shared block decode, the lazily bound system calls, a mount's readiness probe). A
 * plain monitor rather than a CompletableFuture or FutureTask: their VarHandles cost a short
 * command's fresh JVM about 6 ms of its start.
 */
public final class Outcome<V> {
    private boolean done;
    private V value;
    private Throwable failure;

    /** Sets the result (a null failure for a value) and wakes every waiter. */
    public synchronized void set(V v, Throwable f) {
        value = v;
        failure = f;
        done = true;
        notifyAll();
    }

    /** Waits until the result is set, or {@code timeoutNanos} have passed; returns whether it is set. */
    public synchronized boolean await(long timeoutNanos) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        while (!done) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return true;
    }

    /** Waits until the result is set. */
    public synchronized void await() throws InterruptedException {
        while (!done) {
            wait();
        }
    }

    /** The value; null until set, or when it failed. */
    public synchronized V value() {
        return value;
    }

    /** The failure; null until set, or when it succeeded. */
    public synchronized Throwable failure() {
        return failure;
    }
}

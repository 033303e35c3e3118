package kmodpack.image;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Runs one worker on the calling thread and on up to {@code helpers} spare cores at once, for
 * reads that split into independent pieces (a file's blocks, a module's ELF parts): each copy of
 * the worker takes the next piece not yet taken, so the caller never waits on a busy pool.
 */
public final class SpareCores {
    private SpareCores() {
    }

    /**
     * Runs {@code worker} here and on {@code min(helpers, cores - 1)} pool threads, and returns
     * when all are done. An IOException or Error of any copy is rethrown as it is; anything else
     * (a bug, or numbers from a damaged image that slipped past a check) becomes an ImageException
     * saying {@code what} failed.
     */
    public static void run(int helpers, String what, Callable<Void> worker) throws IOException {
        int n = Math.min(helpers, Runtime.getRuntime().availableProcessors() - 1);
        List<ForkJoinTask<Void>> tasks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            tasks.add(ForkJoinPool.commonPool().submit(worker));
        }
        try {
            worker.call();
            for (ForkJoinTask<Void> t : tasks) {
                t.get();
            }
        } catch (ExecutionException e) {
            throw unwrap(e.getCause(), what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        } catch (Exception e) {
            throw unwrap(e, what);
        }
    }

    private static IOException unwrap(Throwable cause, String what) {
        // The pool wraps a helper's checked exception in RuntimeExceptions, sometimes twice.
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof IOException io) {
                return io;
            }
            if (t instanceof Error err) {
                throw err;
            }
        }
        return new ImageException(what + ": " + cause, cause);
    }
}

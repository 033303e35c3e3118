package kmodpack.fuse;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import kmodpack.image.ImageEntry;
import kmodpack.image.ImageException;
import kmodpack.image.ModuleImage;

/**
 * What both FUSE servers answer, whichever way requests reach them (libfuse's path-based calls
 * in {@link ImageFs}, the kernel protocol in {@link FuseProtocol}): link counts, reads through
 * the shared reader with read-ahead for sequential readers, and the log of damaged blocks. No
 * native code here, so that the kernel-protocol server loads none of libfuse's binding.
 */
final class ImageView {
    static final int STATFS_BLOCK = 4096;

    final ModuleImage image;
    final long imageFileSize;
    private final ServerLog log;
    /** Per entry (by index = inode - 1): its link count. */
    private final int[] nlink;
    private final Set<String> reported = ConcurrentHashMap.newKeySet();
    /**
     * Read-ahead: once reads have gone forward through the data for a while, the next blocks of
     * the image (data order is the tree's depth-first order, which is how tar, cp -r and
     * find|xargs walk it) are decoded on spare threads, one per core, so that a sequential
     * reader finds them ready. Random readers (modinfo, modprobe: a module here, a module there)
     * get none: decoding blocks nobody reads would take the cores their own reads need.
     */
    private final ExecutorService readAhead;
    private final int readAheadBlocks;
    private final Set<Integer> queued = ConcurrentHashMap.newKeySet();
    /** How far a run of reads must have gone forward before blocks past it are decoded ahead. */
    static final long SEQUENTIAL_AFTER = 256 << 10;
    /** The last read (guarded by itself): which file, where it ended, in which block, and the run so far. */
    private final long[] last = {-1, 0, 0, -1, 0};
    private static final int LAST_INODE = 0;
    private static final int LAST_END = 1;
    private static final int LAST_SIZE = 2;
    private static final int LAST_BLOCK = 3;
    private static final int RUN = 4;

    /** @param readAheadBlocks how many blocks past each read to decode ahead (0: none) */
    ImageView(ModuleImage image, long imageFileSize, ServerLog log, int readAheadBlocks) {
        this.image = image;
        this.readAheadBlocks = readAheadBlocks;
        this.readAhead = readAheadBlocks == 0 ? null : Executors.newFixedThreadPool(readAheadBlocks, r -> {
            Thread t = new Thread(r, "kmodpack-read-ahead");
            t.setDaemon(true);
            return t;
        });
        this.imageFileSize = imageFileSize;
        this.log = log;
        List<ImageEntry> all = image.entries();
        nlink = new int[all.size()];
        for (ImageEntry e : all) {
            if (!e.isRoot() && e.isDirectory()) {
                nlink[index(image.parent(e))]++;
            }
        }
        for (ImageEntry e : all) {
            // A directory: its own name, ".", and each subdirectory's ".."; anything else: one.
            nlink[index(e)] = e.isDirectory() ? nlink[index(e)] + 2 : 1;
        }
    }

    static int index(ImageEntry e) {
        return (int) (e.inode() - 1);
    }

    int nlink(ImageEntry e) {
        return nlink[index(e)];
    }

    /**
     * A file is opened. A file over several blocks: its last block is decoded now on a spare
     * core, while the caller's first read decodes the first one. Readers of a module want both
     * ends at least (ELF header, section headers and signature at the end).
     */
    void opened(ImageEntry e) {
        int[] blocks = readAhead == null ? null : image.blocksOf(e);
        if (blocks != null && blocks.length > 1) {
            decodeAhead(blocks[blocks.length - 1]);
        }
    }

    /**
     * Reads up to {@code want} bytes of a regular file at {@code offset} into {@code dst}.
     *
     * @return the count read, or -1 when the reader failed (logged once per cause: answer EIO)
     */
    int read(ImageEntry e, long offset, byte[] dst, int want) {
        try {
            int n = image.read(e, offset, dst, 0, want);
            if (readAhead != null && n > 0 && goesForward(e, offset, n)) {
                readAheadAfter(image.blockOf(e, offset + n - 1));
            }
            return n;
        } catch (IOException | RuntimeException ex) {
            report(ex);
            return -1;
        }
    }

    /** A symbolic link's target, or null when the reader failed (logged: answer EIO). */
    byte[] readlink(ImageEntry e) {
        try {
            return image.readlinkBytes(e);
        } catch (IOException | RuntimeException ex) {
            report(ex);
            return null;
        }
    }

    /**
     * Records a read and says whether it belongs to a forward run of at least
     * {@link #SEQUENTIAL_AFTER} bytes: each read continuing the previous one in the same file, or
     * starting the next file in data order (offset 0, the previous file read to its end, in the
     * same block or the next).
     */
    boolean goesForward(ImageEntry e, long offset, int n) {
        int first = image.blockOf(e, offset);
        synchronized (last) {
            boolean continues = e.inode() == last[LAST_INODE] ? offset == last[LAST_END]
                    : offset == 0 && last[LAST_END] == last[LAST_SIZE] && (first == last[LAST_BLOCK] || first == last[LAST_BLOCK] + 1);
            last[RUN] = continues ? last[RUN] + n : n;
            last[LAST_INODE] = e.inode();
            last[LAST_END] = offset + n;
            last[LAST_SIZE] = e.size();
            last[LAST_BLOCK] = image.blockOf(e, offset + n - 1);
            return last[RUN] >= SEQUENTIAL_AFTER;
        }
    }

    private void readAheadAfter(int block) {
        if (block < 0) {
            return;     // the file's bytes do not follow one run of blocks: nothing to read ahead
        }
        for (int b = block + 1; b <= block + readAheadBlocks && b < image.blockCount(); b++) {
            decodeAhead(b);
        }
    }

    /** Decodes a block into the reader's cache on a spare thread unless it is there or queued. */
    private void decodeAhead(int b) {
        if (!image.isCached(b) && queued.add(b)) {
            readAhead.execute(() -> {
                try {
                    image.preload(b);
                } finally {
                    queued.remove(b);
                }
            });
        }
    }

    /** Logs a failed read once per cause (a damaged block is named once, whichever file met it first). */
    private void report(Exception ex) {
        Throwable cause = ex instanceof ImageException && ex.getCause() instanceof ImageException ? ex.getCause() : ex;
        String key = String.valueOf(cause.getMessage());
        if (reported.add(key)) {
            String what = ex instanceof ImageException ? ex.getMessage() : ex.toString();
            log.error(image.file() + ": " + what + "; reads that need it fail with EIO (logged once)");
        }
    }
}

package kmodpack.image;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;

/**
 * LZMA2 encoding and decoding through the system's liblzma (the library behind the xz tool),
 * called with JNA. It packs about 1.3 times faster than the pure-Java encoder on kernel modules,
 * and decodes several times faster than the Java decoder, above all in a freshly started JVM
 * whose JIT has not compiled the Java decoder yet. Its streams are ordinary raw LZMA2; where
 * liblzma cannot be loaded (or {@code -Dkmodpack.javaLzma=true}), the Java codec is used.
 */
final class NativeLzma {
    private NativeLzma() {
    }

    /** The functions kmodpack calls: raw LZMA2 blocks here, .xz streams in {@link NativeXzInputStream}. */
    interface LibLzma extends Library {
        /** Fills an lzma_options_lzma from a preset; returns true on failure. */
        byte lzma_lzma_preset(Pointer options, int preset);

        int lzma_raw_buffer_encode(Pointer filters, Pointer allocator, byte[] in, long inSize,
                                   byte[] out, LongByReference outPos, long outSize);

        int lzma_raw_buffer_decode(Pointer filters, Pointer allocator, byte[] in, LongByReference inPos,
                                   long inSize, byte[] out, LongByReference outPos, long outSize);

        int lzma_stream_decoder(Pointer strm, long memlimit, int flags);

        int lzma_code(Pointer strm, int action);

        void lzma_end(Pointer strm);
    }

    private static final long LZMA_FILTER_LZMA2 = 0x21L;
    private static final long LZMA_VLI_UNKNOWN = -1L;
    private static final int LZMA_OK = 0;
    private static final int LZMA_BUF_ERROR = 10;

    /** Filter chains for decoding, by dictionary size: read-only once built, so threads share them. */
    private static final java.util.concurrent.ConcurrentHashMap<Integer, Memory> DECODE_FILTERS =
            new java.util.concurrent.ConcurrentHashMap<>();

    // Offsets in lzma_options_lzma (LP64: x86_64 and aarch64 alike); see lzma/lzma12.h.
    private static final int OPT_DICT_SIZE = 0;
    private static final int OPT_LC = 20;
    private static final int OPT_LP = 24;
    private static final int OPT_PB = 28;
    private static final int OPT_NICE_LEN = 36;
    private static final int OPT_DEPTH = 44;
    /** The struct is 112 bytes in liblzma 5.x; room to spare for its reserved fields. */
    private static final int OPT_SIZE = 256;

    /**
     * The library, loaded on first use: JNA's start and the library's cost a short-lived command
     * more than they save on small streams (see {@link Codec#decodeXz}), so nothing loads it early.
     */
    private static final class Loaded {
        /** Null where liblzma cannot be loaded (or -Dkmodpack.javaLzma=true): callers use the Java codec. */
        static final LibLzma LIB = load();
    }

    /** Set once {@link Loaded} has tried to load the library. */
    private static volatile boolean tried;

    private static LibLzma load() {
        try {
            if (Boolean.getBoolean("kmodpack.javaLzma")) {
                return null;
            }
            JnaStart.prepare();
            // "liblzma.so" exists only with the development package; the runtime one is .so.5.
            for (String name : new String[] {"liblzma.so.5", "lzma"}) {
                try {
                    return Native.load(name, LibLzma.class);
                } catch (Throwable t) {
                    // try the next name; without liblzma the Java encoder is used
                }
            }
            return null;
        } finally {
            tried = true;
        }
    }

    /** The library (loading it on the first call), or null where it cannot be loaded. */
    static LibLzma lib() {
        return Loaded.LIB;
    }

    /** Whether liblzma can be used, loading it on the first call. */
    static boolean available() {
        return lib() != null;
    }

    /** Whether liblzma is loaded already: true only once a call has loaded it (this one loads nothing). */
    static boolean loaded() {
        return tried && Loaded.LIB != null;
    }

    /**
     * Compresses with an xz preset and the given overrides (0 keeps the preset's value); returns
     * null when the output would not fit in {@code len} bytes (the caller stores the block raw).
     */
    static byte[] compress(byte[] src, int len, int preset, int dictSize, Codec.XzTuning t) {
        Memory options = new Memory(OPT_SIZE);
        options.clear();
        if (lib().lzma_lzma_preset(options, preset) != 0) {
            throw new IllegalArgumentException("liblzma refused preset " + preset);
        }
        options.setInt(OPT_DICT_SIZE, dictSize);
        options.setInt(OPT_LC, t.lc());
        options.setInt(OPT_LP, t.lp());
        options.setInt(OPT_PB, t.pb());
        if (t.niceLen() > 0) {
            options.setInt(OPT_NICE_LEN, t.niceLen());
        }
        if (t.depth() > 0) {
            options.setInt(OPT_DEPTH, t.depth());
        }
        Memory filters = filterChain(options);
        byte[] out = new byte[len];
        LongByReference pos = new LongByReference(0);
        int ret = lib().lzma_raw_buffer_encode(filters, Pointer.NULL, src, len, out, pos, out.length);
        // Only native memory points at the options: without the fence the collector may free them
        // during the call (seen as LZMA_OPTIONS_ERROR when the heap is busy).
        java.lang.ref.Reference.reachabilityFence(options);
        java.lang.ref.Reference.reachabilityFence(filters);
        if (ret == LZMA_BUF_ERROR) {
            return null;
        }
        if (ret != LZMA_OK) {
            throw new IllegalStateException("liblzma failed with code " + ret);
        }
        return java.util.Arrays.copyOf(out, (int) pos.getValue());
    }

    /**
     * Decodes the first {@code need} bytes of a raw LZMA2 stream whose whole decoded length is
     * {@code rawLen} into {@code dst}. For a whole stream ({@code need == rawLen}) the stream must
     * end exactly there and use all of {@code src}; for a prefix, liblzma stops once {@code dst}
     * is full. Returns false when the data is damaged.
     */
    static boolean decode(byte[] src, int srcLen, byte[] dst, int need, int rawLen, int dictSize) {
        Memory filters = DECODE_FILTERS.computeIfAbsent(dictSize, NativeLzma::decodeFilters);
        LongByReference inPos = new LongByReference(0);
        LongByReference outPos = new LongByReference(0);
        int ret = lib().lzma_raw_buffer_decode(filters, Pointer.NULL, src, inPos, srcLen, dst, outPos, need);
        if (need < rawLen) {
            // The output filled up before the stream ended: liblzma says "buffer too small" and
            // leaves the positions where they were, but the bytes are in dst.
            return ret == LZMA_BUF_ERROR;
        }
        return ret == LZMA_OK && outPos.getValue() == need && inPos.getValue() == srcLen;
    }

    private static Memory decodeFilters(int dictSize) {
        // Decoding needs only the dictionary size (no preset dictionary); the rest stays zero.
        Memory options = new Memory(OPT_SIZE);
        options.clear();
        options.setInt(OPT_DICT_SIZE, dictSize);
        KEEP.add(options);
        return filterChain(options);
    }

    /** lzma_filter[2]: {LZMA2, &options}, {LZMA_VLI_UNKNOWN, NULL}. */
    private static Memory filterChain(Memory options) {
        Memory filters = new Memory(32);
        filters.setLong(0, LZMA_FILTER_LZMA2);
        filters.setPointer(8, options);
        filters.setLong(16, LZMA_VLI_UNKNOWN);
        filters.setPointer(24, Pointer.NULL);
        return filters;
    }

    /** The options the cached filter chains point to, kept reachable so JNA does not free them. */
    private static final java.util.List<Memory> KEEP = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
}

package kmodpack.image;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Locale;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;
import org.tukaani.xz.FinishableWrapperOutputStream;
import org.tukaani.xz.LZMA2InputStream;
import org.tukaani.xz.LZMA2Options;

/**
 * The block compressors an image can use (docs/FORMAT.md, "Codecs"). Each block is compressed
 * on its own, so any block can be decoded without the others.
 */
public enum Codec {
    /** Stored as is. */
    NONE(0, 0, 0, 0, 1),
    /**
     * LZ4 block format; level 0 is the fast compressor, 1..17 LZ4 HC. Decodes at memory speed.
     * No sequence decodes to more than 255 times its length (a match grows 255 bytes per
     * length byte): 64 MiB of zeros packs 254.8:1.
     */
    LZ4(1, 12, 0, 17, 256),
    /**
     * Raw LZMA2 (the payload of an .xz block, without the container); level = xz preset 0..9.
     * LZMA's best case is about 7000:1 (a 273-byte repeat match costs at least ~0.3 bits);
     * 64 MiB of zeros packs 6821:1 with xz -9e, nice=273.
     */
    XZ(2, 6, 0, 9, 16384);

    /** The byte that names the codec in the image header. */
    public final int id;
    public final int defaultLevel;
    public final int minLevel;
    public final int maxLevel;

    /**
     * A bound on decoded length / stored length that no valid stream exceeds, with a margin: a
     * reader refuses a length claim above it before allocating anything for it.
     */
    private final long maxRatio;

    Codec(int id, int defaultLevel, int minLevel, int maxLevel, long maxRatio) {
        this.id = id;
        this.defaultLevel = defaultLevel;
        this.minLevel = minLevel;
        this.maxLevel = maxLevel;
        this.maxRatio = maxRatio;
    }

    /** The most bytes {@code storedLength} bytes of this codec can decode to (see maxRatio). */
    long maxRawLength(long storedLength) {
        return storedLength > Long.MAX_VALUE / maxRatio ? Long.MAX_VALUE : storedLength * maxRatio;
    }

    public static Codec byId(int id) throws ImageException {
        for (Codec c : values()) {
            if (c.id == id) {
                return c;
            }
        }
        throw new ImageException("unknown codec id " + id);
    }

    public static Codec byName(String name) {
        for (Codec c : values()) {
            if (c.displayName().equals(name.toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        throw new IllegalArgumentException("unknown codec '" + name + "' (choose xz, lz4 or none)");
    }

    /** Whether xz blocks are packed by the system's liblzma (faster) rather than in Java. */
    public static boolean nativeXzEncoder() {
        return NativeLzma.available();
    }

    public String displayName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Match finder limits for xz level 6, the default; other levels are the xz presets as they
     * are. Measured on Debian's module trees: nice length 32 and depth 8 cost about 1.7% of
     * image size against preset 6's 64 and 48, and save about a fifth of the packing time.
     */
    static final int XZ_NICE_LEN = 32;
    static final int XZ_DEPTH = 8;

    private static int niceLen(int level) {
        return level == 6 ? XZ_NICE_LEN : 0;
    }

    private static int depth(int level) {
        return level == 6 ? XZ_DEPTH : 0;
    }

    /** LZMA2 dictionary for a block: no larger than the block needs, no smaller than LZMA2 allows. */
    static int xzDictSize(int blockSize) {
        return Math.max(LZMA2Options.DICT_SIZE_MIN, blockSize);
    }

    /**
     * How an LZMA2 encoder models a stream: the literal context and position bits (lc, lp) and the
     * position bits of matches (pb), and the match finder's effort (nice length, depth; 0 keeps
     * the level's own). Decoders read lc, lp and pb from the stream; they need not be told.
     */
    public record XzTuning(int lc, int lp, int pb, int niceLen, int depth) {
        /** What a level gives: xz's lc=3 lp=0 pb=2, and the match finder limits of {@link #XZ_NICE_LEN}. */
        static XzTuning of(int level) {
            return new XzTuning(3, 0, 2, Codec.niceLen(level), Codec.depth(level));
        }

        public XzTuning {
            if (lc < 0 || lp < 0 || lc + lp > 4 || pb < 0 || pb > 4 || niceLen < 0 || niceLen > 273 || depth < 0) {
                throw new IllegalArgumentException("bad LZMA2 tuning");
            }
        }
    }

    /**
     * Compresses {@code len} bytes; returns null when the result would not be smaller than the
     * input, so the caller stores the block raw instead.
     */
    byte[] compress(byte[] src, int len, int level, int blockSize) throws IOException {
        return compress(src, len, level, blockSize, this == XZ ? XzTuning.of(level) : null);
    }

    /** Like {@link #compress(byte[], int, int, int)}, xz with the given tuning (null: the level's). */
    byte[] compress(byte[] src, int len, int level, int blockSize, XzTuning tuning) throws IOException {
        switch (this) {
            case NONE:
                return null;
            case LZ4: {
                LZ4Factory f = LZ4Factory.fastestJavaInstance();
                LZ4Compressor c = level == 0 ? f.fastCompressor() : f.highCompressor(level);
                byte[] out = new byte[c.maxCompressedLength(len)];
                int n = c.compress(src, 0, len, out, 0, out.length);
                return n < len ? Arrays.copyOf(out, n) : null;
            }
            case XZ: {
                int dict = xzDictSize(blockSize);
                XzTuning t = tuning != null ? tuning : XzTuning.of(level);
                if (NativeLzma.available()) {
                    return NativeLzma.compress(src, len, level, dict, t);
                }
                LZMA2Options opts = new LZMA2Options(level);
                opts.setDictSize(dict);
                opts.setLcLp(t.lc(), t.lp());
                opts.setPb(t.pb());
                if (t.niceLen() > 0) {
                    opts.setNiceLen(t.niceLen());
                }
                if (t.depth() > 0) {
                    opts.setDepthLimit(t.depth());
                }
                ByteArrayOutputStream bos = new ByteArrayOutputStream(len / 3 + 64);
                try (var out = opts.getOutputStream(new FinishableWrapperOutputStream(bos))) {
                    out.write(src, 0, len);
                }
                return bos.size() < len ? bos.toByteArray() : null;
            }
            default:
                throw new AssertionError(this);
        }
    }

    /**
     * Decodes only the first {@code need} bytes of a block whose full length is {@code rawLen}.
     * LZMA2 can stop part way; the other codecs decode the block whole.
     */
    void decompressPrefix(byte[] src, int srcLen, byte[] dst, int need, int rawLen, int blockSize) throws IOException {
        if (this != XZ) {
            byte[] whole = new byte[rawLen];
            decompress(src, srcLen, whole, rawLen, blockSize);
            System.arraycopy(whole, 0, dst, 0, need);
            return;
        }
        decodeXz(src, srcLen, dst, need, rawLen, xzDictSize(blockSize), nativeXzDecoder(need));
    }

    /**
     * Until a process has this many bytes of LZMA2 to decode, it decodes them in Java unless
     * liblzma is loaded already. Starting JNA and loading liblzma costs a freshly started JVM more
     * than the Java decoder takes for a few hundred KiB, such as the index of a whole module tree,
     * which is all that {@code info} or {@code modprobe -D} decode from a version 2 image; reading
     * modules pays it back (README.md, "Start-up"). The bytes are counted over the whole process,
     * not per block: prefix decodes and small blocks must not keep a long run in Java.
     */
    static final int NATIVE_XZ_MIN = 1 << 20;

    /** LZMA2 bytes this process has decoded in Java or asked for so far. */
    private static final java.util.concurrent.atomic.AtomicLong xzBytesWanted = new java.util.concurrent.atomic.AtomicLong();

    /** Whether to decode {@code need} bytes of LZMA2 with liblzma (loading it if that is worth it). */
    static boolean nativeXzDecoder(int need) {
        if (NativeLzma.loaded()) {
            return true;
        }
        return xzBytesWanted.addAndGet(need) >= NATIVE_XZ_MIN && NativeLzma.available();
    }

    /**
     * Decodes the first {@code need} of the {@code rawLen} bytes a raw LZMA2 stream holds, with
     * liblzma or in Java. A whole stream must decode to exactly {@code rawLen} bytes.
     */
    static void decodeXz(byte[] src, int srcLen, byte[] dst, int need, int rawLen, int dictSize,
                         boolean nativeDecoder) throws ImageException {
        if (nativeDecoder) {
            if (!NativeLzma.decode(src, srcLen, dst, need, rawLen, dictSize)) {
                throw new ImageException("xz data is damaged");
            }
            return;
        }
        try (InputStream in = new LZMA2InputStream(new ByteArrayInputStream(src, 0, srcLen), dictSize)) {
            if (in.readNBytes(dst, 0, need) != need || (need == rawLen && in.read() != -1)) {
                throw new ImageException("xz block decodes to the wrong length");
            }
        } catch (ImageException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageException("xz data is damaged", e);
        }
    }

    /**
     * Pure Java by default: nothing to unpack or load at start, which short-lived readers prefer.
     * Made at the first lz4 block, not with this class: lz4-java finds its classes by reflection
     * (about 5 ms of a fresh JVM), which {@code info} and images without lz4 need not pay.
     */
    private static volatile LZ4SafeDecompressor lz4Decompressor;

    private static LZ4SafeDecompressor lz4Decompressor() {
        LZ4SafeDecompressor d = lz4Decompressor;
        if (d == null) {
            synchronized (Codec.class) {
                d = lz4Decompressor;
                if (d == null) {
                    d = LZ4Factory.fastestJavaInstance().safeDecompressor();
                    lz4Decompressor = d;
                }
            }
        }
        return d;
    }

    /**
     * Decodes LZ4 blocks with lz4-java's native library where it loads (it is unpacked to the
     * temporary directory once), falling back to Java. For long-running readers such as the
     * mount server, where the native decoder is several times faster. The output is the same.
     */
    public static void preferNativeLz4() {
        lz4Decompressor = LZ4Factory.fastestInstance().safeDecompressor();
    }

    /**
     * For long-running readers: loads the native lz4 and LZMA2 decoders on a thread of their
     * own, so that the caller does not wait for them; blocks decode in Java until they are in.
     */
    public static void preferNativeDecodersSoon() {
        inBackground("native decoders", () -> {
            preferNativeLz4();
            NativeLzma.available();
        });
    }

    /**
     * Loads liblzma on a thread of its own, for a reader that will soon decode module blocks
     * (the loader, before it reads a closure): LZMA2 decodes in Java until it is in.
     */
    public static void loadNativeXzSoon() {
        // Runnables as named classes, not lambdas: a short command's first lambda costs a fresh
        // JVM about 10 ms of method-handle set-up.
        inBackground("liblzma", new Runnable() {
            @Override
            public void run() {
                NativeLzma.available();
            }
        });
    }

    /**
     * Sets lz4-java's decoder up on a thread of its own, for a reader that will soon decode lz4
     * blocks (a module lookup in the hot stream): its factory finds its classes by reflection and
     * tests them on a sample, 5-8 ms of a fresh JVM that can overlap the reading of the index.
     */
    public static void prepareLz4Soon() {
        inBackground("lz4", new Runnable() {
            @Override
            public void run() {
                lz4Decompressor();
            }
        });
    }

    private static void inBackground(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    /** Decodes exactly {@code rawLen} bytes into {@code dst}; any mismatch is damage. */
    void decompress(byte[] src, int srcLen, byte[] dst, int rawLen, int blockSize) throws IOException {
        switch (this) {
            case NONE:
                if (srcLen != rawLen) {
                    throw new ImageException("stored block has wrong length");
                }
                System.arraycopy(src, 0, dst, 0, rawLen);
                return;
            case LZ4: {
                LZ4SafeDecompressor d = lz4Decompressor();
                int n;
                try {
                    n = d.decompress(src, 0, srcLen, dst, 0, rawLen);
                } catch (LZ4Exception | IndexOutOfBoundsException e) {
                    throw new ImageException("lz4 data is damaged", e);
                }
                if (n != rawLen) {
                    throw new ImageException("lz4 block decodes to " + n + " bytes, expected " + rawLen);
                }
                return;
            }
            case XZ:
                decodeXz(src, srcLen, dst, rawLen, rawLen, xzDictSize(blockSize), nativeXzDecoder(rawLen));
                return;
            default:
                throw new AssertionError(this);
        }
    }
}

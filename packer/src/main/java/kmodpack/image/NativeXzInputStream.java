package kmodpack.image;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.io.InputStream;

/**
 * xz decoding through the system's liblzma (called with JNA): about twice as fast as the Java
 * decoder, which matters because build --deb reads a package's data.tar.xz twice. Null from
 * {@link #open} when liblzma cannot be loaded; the caller then uses the Java decoder. The
 * library binding is {@link NativeLzma}'s, which the image's blocks use too.
 */
public final class NativeXzInputStream extends InputStream {
    private static final NativeLzma.LibLzma LIB = NativeLzma.lib();

    private static final int LZMA_OK = 0;
    private static final int LZMA_STREAM_END = 1;
    private static final int LZMA_RUN = 0;
    private static final int LZMA_FINISH = 3;
    private static final int LZMA_CONCATENATED = 0x08;
    // lzma_stream on LP64 (x86_64, aarch64): next_in, avail_in, total_in, next_out, avail_out, ...
    private static final int NEXT_IN = 0;
    private static final int AVAIL_IN = 8;
    private static final int NEXT_OUT = 24;
    private static final int AVAIL_OUT = 32;
    private static final int STREAM_SIZE = 256; // 136 bytes in liblzma 5.x, the rest spare
    private static final int BUF = 1 << 16;

    private final InputStream in;
    private final Memory strm = new Memory(STREAM_SIZE);
    private final Memory inBuf = new Memory(BUF);
    private final Memory outBuf = new Memory(BUF);
    private final byte[] transfer = new byte[BUF];
    private int outPos;
    private int outEnd;
    private boolean inputDone;
    private boolean ended;
    private boolean closed;

    private NativeXzInputStream(InputStream in) {
        this.in = in;
    }

    /** A decoder of the xz stream(s) in {@code in}, or null without liblzma. */
    public static InputStream open(InputStream in) throws IOException {
        if (LIB == null || Native.POINTER_SIZE != 8) {
            return null;
        }
        NativeXzInputStream s = new NativeXzInputStream(in);
        s.strm.clear();
        int ret = LIB.lzma_stream_decoder(s.strm, -1L, LZMA_CONCATENATED);
        if (ret != LZMA_OK) {
            throw new IOException("liblzma could not start a decoder (code " + ret + ")");
        }
        return s;
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (closed) {
            throw new IOException("stream closed");
        }
        if (len == 0) {
            return 0;
        }
        while (outPos == outEnd) {
            if (ended) {
                return -1;
            }
            decodeMore();
        }
        int n = Math.min(len, outEnd - outPos);
        outBuf.read(outPos, b, off, n);
        outPos += n;
        return n;
    }

    private void decodeMore() throws IOException {
        if (strm.getLong(AVAIL_IN) == 0 && !inputDone) {
            int n = in.read(transfer, 0, BUF);
            if (n < 0) {
                inputDone = true;
            } else {
                inBuf.write(0, transfer, 0, n);
                strm.setPointer(NEXT_IN, inBuf);
                strm.setLong(AVAIL_IN, n);
            }
        }
        strm.setPointer(NEXT_OUT, outBuf);
        strm.setLong(AVAIL_OUT, BUF);
        int ret = LIB.lzma_code(strm, inputDone ? LZMA_FINISH : LZMA_RUN);
        outPos = 0;
        outEnd = (int) (BUF - strm.getLong(AVAIL_OUT));
        if (ret == LZMA_STREAM_END) {
            ended = true;
        } else if (ret != LZMA_OK) {
            // LZMA_BUF_ERROR (10) at the end of the input: the stream was cut short
            throw new IOException(ret == 10 && inputDone ? "xz data is truncated" : "xz data is damaged (liblzma code " + ret + ")");
        }
    }

    @Override
    public void close() throws IOException {
        if (!closed) {
            closed = true;
            LIB.lzma_end(strm);
            in.close();
        }
    }
}

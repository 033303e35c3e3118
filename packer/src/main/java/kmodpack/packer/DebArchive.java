package kmodpack.packer;

import io.airlift.compress.zstd.ZstdInputStream;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.ar.ArArchiveEntry;
import org.apache.commons.compress.archivers.ar.ArArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;
import org.tukaani.xz.XZInputStream;

import kmodpack.image.ImageException;
import kmodpack.image.NativeXzInputStream;

/**
 * A Debian package (.deb) read as a stream: the ar archive, then its {@code data.tar} member
 * (xz, zstd, gzip, bzip2 or uncompressed) as a tar stream of entries. Nothing is unpacked.
 * Limits guard against a hostile package: a bounded number of entries and of bytes in all.
 */
final class DebArchive implements AutoCloseable {
    /** Far above any kernel package (Debian's amd64 one: about 5,000 entries, 420 MB). */
    static final int MAX_ENTRIES = 1_000_000;
    static final long MAX_TOTAL_BYTES = 16L << 30;

    private final Path deb;
    private final InputStream file;
    private final TarArchiveInputStream tar;
    private int entries;
    private long bytes;

    private DebArchive(Path deb, InputStream file, TarArchiveInputStream tar) {
        this.deb = deb;
        this.file = file;
        this.tar = tar;
    }

    /** Opens the package and positions at its first data.tar entry. */
    static DebArchive open(Path deb) throws IOException {
        InputStream file = new BufferedInputStream(Files.newInputStream(deb), 1 << 16);
        boolean ok = false;
        try {
            ArArchiveInputStream ar = new ArArchiveInputStream(file);
            ArArchiveEntry first = nextAr(ar, deb);
            if (first == null || !first.getName().equals("debian-binary")) {
                throw new ImageException(deb + ": not a Debian package (no debian-binary member first)");
            }
            byte[] magic = ar.readNBytes(16);
            if (!new String(magic, java.nio.charset.StandardCharsets.ISO_8859_1).startsWith("2.")) {
                throw new ImageException(deb + ": not a Debian package of format 2.x");
            }
            ArArchiveEntry e;
            while ((e = nextAr(ar, deb)) != null) {
                String name = e.getName();
                if (!name.startsWith("data.tar")) {
                    continue;
                }
                InputStream data = decompressor(name, ar, deb);
                TarArchiveInputStream tar = new TarArchiveInputStream(new BufferedInputStream(data, 1 << 16));
                ok = true;
                return new DebArchive(deb, file, tar);
            }
            throw new ImageException(deb + ": not a Debian package (no data.tar member)");
        } finally {
            if (!ok) {
                file.close();
            }
        }
    }

    private static ArArchiveEntry nextAr(ArArchiveInputStream ar, Path deb) throws IOException {
        try {
            return ar.getNextEntry();
        } catch (IOException | RuntimeException e) {
            throw new ImageException(deb + ": not a Debian package (damaged ar archive: " + e.getMessage() + ")");
        }
    }

    private static InputStream decompressor(String member, InputStream in, Path deb) throws IOException {
        try {
            return switch (member) {
                case "data.tar" -> in;
                case "data.tar.xz" -> {
                    InputStream nativeXz = NativeXzInputStream.open(in);
                    yield nativeXz != null ? nativeXz : new XZInputStream(in);
                }
                case "data.tar.zst" -> new ZstdInputStream(in);
                case "data.tar.gz" -> new GZIPInputStream(in, 1 << 16);
                case "data.tar.bz2" -> new BZip2CompressorInputStream(in);
                default -> throw new ImageException(deb + ": " + member + ": unsupported compression");
            };
        } catch (ImageException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new ImageException(deb + ": damaged " + member + ": " + e.getMessage());
        }
    }

    /** The next tar entry, or null at the end of the archive. */
    TarArchiveEntry next() throws IOException {
        TarArchiveEntry e;
        try {
            e = tar.getNextEntry();
        } catch (IOException | RuntimeException ex) {
            throw damaged(ex);
        }
        if (e == null) {
            return null;
        }
        if (++entries > MAX_ENTRIES) {
            throw new ImageException(deb + ": data.tar holds more than " + MAX_ENTRIES + " entries: not a kernel package");
        }
        long size = e.isFile() ? e.getSize() : 0;
        if (size < 0 || (bytes += size) > MAX_TOTAL_BYTES) {
            throw new ImageException(deb + ": data.tar holds more than " + (MAX_TOTAL_BYTES >> 30) + " GiB: not a kernel package");
        }
        return e;
    }

    /** The current entry's bytes, up to max (an error beyond). */
    byte[] readEntry(TarArchiveEntry e, long max) throws IOException {
        if (e.getSize() > max) {
            throw new ImageException(deb + ": " + e.getName() + " is larger than " + (max >> 20) + " MiB");
        }
        byte[] b = new byte[(int) e.getSize()];
        int n;
        try {
            n = tar.readNBytes(b, 0, b.length);
        } catch (IOException | RuntimeException ex) {
            throw damaged(ex);
        }
        if (n != b.length) {
            throw new ImageException(deb + ": data.tar ends in the middle of " + e.getName());
        }
        return b;
    }

    /** The current entry's bytes as a stream (not to be closed: it is the archive's). */
    InputStream entryStream() {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                try {
                    return tar.read();
                } catch (IOException | RuntimeException ex) {
                    throw damaged(ex);
                }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                try {
                    return tar.read(b, off, len);
                } catch (IOException | RuntimeException ex) {
                    throw damaged(ex);
                }
            }
        };
    }

    ImageException damaged(Exception e) {
        if (e instanceof ImageException ie) {
            return ie;
        }
        String m = e.getMessage();
        if (e instanceof java.io.EOFException || (m != null && m.toLowerCase(java.util.Locale.ROOT).contains("truncated"))) {
            return new ImageException(deb + ": data.tar is truncated");
        }
        return new ImageException(deb + ": damaged data.tar: " + (m == null ? e.toString() : m));
    }

    @Override
    public void close() throws IOException {
        try {
            tar.close(); // and the decoder under it (liblzma's memory)
        } finally {
            file.close();
        }
    }
}

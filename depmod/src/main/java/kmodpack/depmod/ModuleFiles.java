package kmodpack.depmod;

import io.airlift.compress.zstd.ZstdInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/** Module file names and contents as libkmod sees them: extensions, names, compression. */
public final class ModuleFiles {
    private ModuleFiles() {
    }

    /**
     * Extensions of module files. Debian 12's kmod 30 is built without zlib and so skips
     * {@code .ko.gz} files; kmod built with zlib, and this depmod, count them.
     */
    private static final String[] EXTENSIONS = {".ko", ".ko.gz", ".ko.xz", ".ko.zst"};

    /** Whether a file name (last path component) is a module's (path_ends_with_kmod_ext). */
    public static boolean isModule(String fileName) {
        for (String ext : EXTENSIONS) {
            if (fileName.length() > ext.length() && fileName.endsWith(ext)) {
                return true;
            }
        }
        return false;
    }

    /** The module name of a path: its last component up to the first '.', '-' read as '_'. */
    public static String moduleName(String path) {
        String base = path.substring(path.lastIndexOf('/') + 1);
        StringBuilder sb = new StringBuilder(base.length());
        for (int i = 0; i < base.length(); i++) {
            char c = base.charAt(i);
            if (c == '.') {
                break;
            }
            sb.append(c == '-' ? '_' : c);
        }
        return sb.toString();
    }

    /**
     * The compression of a module file by its magic bytes, as libkmod decides: the kernel's name
     * for it (as in /sys/module/compression: xz, zstd, gzip), or null for none.
     */
    public static String compression(byte[] file) {
        if (file.length >= 6 && (file[0] & 0xff) == 0xfd && file[1] == '7' && file[2] == 'z' && file[3] == 'X'
                && file[4] == 'Z' && file[5] == 0) {
            return "xz";
        }
        if (file.length >= 4 && (file[0] & 0xff) == 0x28 && (file[1] & 0xff) == 0xb5 && (file[2] & 0xff) == 0x2f
                && (file[3] & 0xff) == 0xfd) {
            return "zstd";
        }
        if (file.length >= 2 && (file[0] & 0xff) == 0x1f && (file[1] & 0xff) == 0x8b) {
            return "gzip";
        }
        return null;
    }

    /** The ELF bytes of a module file: decompressed when {@link #compression} names one, else the file itself. */
    public static byte[] elf(byte[] file) throws IOException {
        String kind = compression(file);
        if (kind == null) {
            return file;
        }
        InputStream raw = new ByteArrayInputStream(file);
        try (InputStream in = switch (kind) {
            case "xz" -> new XZInputStream(raw);
            case "zstd" -> new ZstdInputStream(raw);
            default -> new GZIPInputStream(raw, 65536);
        }) {
            return in.readAllBytes();
        } catch (IOException | RuntimeException e) {
            throw new IOException(kind + " data is damaged: " + e.getMessage(), e);
        }
    }
}

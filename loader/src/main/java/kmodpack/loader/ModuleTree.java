package kmodpack.loader;

import java.io.IOException;

/**
 * A kernel's module directory ({@code /lib/modules/VER}) as the loader sees it: files by path
 * relative to that directory. Backed by a packed image, or by a plain directory in tests.
 */
public interface ModuleTree extends AutoCloseable {
    /** The whole file, verified where the store can verify it; null if there is no such file. */
    byte[] read(String relPath) throws IOException;

    /**
     * Random access to a file (the binary indexes are read a page at a time); null if there is
     * no such file. By default the whole file is read first.
     */
    default IndexFile.Source randomAccess(String relPath) throws IOException {
        byte[] data = read(relPath);
        return data == null ? null : IndexFile.bytes(data);
    }

    /** True if a regular file (or a link to one) exists at relPath. */
    boolean isFile(String relPath) throws IOException;

    /** How to name this tree in messages: the image file or the directory. */
    String describe();

    @Override
    default void close() throws IOException {}
}

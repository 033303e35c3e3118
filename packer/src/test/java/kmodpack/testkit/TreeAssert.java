package kmodpack.testkit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/** Compares two directory trees the way diff -r and stat would: names, bytes, mode, mtime, links. */
public final class TreeAssert {
    private TreeAssert() {
    }

    public static void assertSameTree(Path expected, Path actual) throws IOException {
        List<String> a = relativePaths(expected);
        List<String> b = relativePaths(actual);
        assertEquals(a, b, "the trees hold different names");
        for (String rel : a) {
            Path x = rel.isEmpty() ? expected : expected.resolve(rel);
            Path y = rel.isEmpty() ? actual : actual.resolve(rel);
            Map<String, Object> sx = Files.readAttributes(x, "unix:mode,lastModifiedTime,size", LinkOption.NOFOLLOW_LINKS);
            Map<String, Object> sy = Files.readAttributes(y, "unix:mode,lastModifiedTime,size", LinkOption.NOFOLLOW_LINKS);
            assertEquals(Integer.toOctalString((Integer) sx.get("mode")), Integer.toOctalString((Integer) sy.get("mode")), rel + ": mode");
            if (!rel.isEmpty()) {
                assertEquals(((FileTime) sx.get("lastModifiedTime")).toInstant(), ((FileTime) sy.get("lastModifiedTime")).toInstant(), rel + ": mtime");
            }
            if (Files.isSymbolicLink(x)) {
                assertEquals(Files.readSymbolicLink(x), Files.readSymbolicLink(y), rel + ": link target");
            } else if (Files.isRegularFile(x, LinkOption.NOFOLLOW_LINKS)) {
                assertEquals(sx.get("size"), sy.get("size"), rel + ": size");
                assertSameContent(x, y, rel);
            }
        }
    }

    private static void assertSameContent(Path x, Path y, String rel) throws IOException {
        try (InputStream ix = Files.newInputStream(x); InputStream iy = Files.newInputStream(y)) {
            byte[] bx = new byte[1 << 16];
            byte[] by = new byte[1 << 16];
            long at = 0;
            while (true) {
                int nx = ix.readNBytes(bx, 0, bx.length);
                int ny = iy.readNBytes(by, 0, by.length);
                assertEquals(nx, ny, rel + ": length differs near byte " + at);
                if (nx == 0) {
                    return;
                }
                if (!java.util.Arrays.equals(bx, 0, nx, by, 0, ny)) {
                    assertArrayEquals(java.util.Arrays.copyOf(bx, nx), java.util.Arrays.copyOf(by, ny), rel + ": bytes differ near " + at);
                }
                at += nx;
            }
        }
    }

    /** All paths below a directory, relative and sorted; "" for the directory itself. */
    public static List<String> relativePaths(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.forEach(p -> out.add(dir.relativize(p).toString()));
        }
        out.sort(null);
        return out;
    }
}

package kmodpack.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.concurrent.Callable;

import kmodpack.image.ImageEntry;
import kmodpack.image.ImageException;
import kmodpack.image.ModuleImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "ls", mixinStandardHelpOptions = true, description = {"List a directory of an image (the top of the tree by default).",
    "Names are escaped as GNU ls -b shows them (\\n, \\033, '\\ ' for a space...): never raw control bytes."})
final class LsCommand implements Callable<Integer> {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", arity = "0..1", paramLabel = "PATH")
    String path = "";

    @Option(names = "-l", description = "Long listing: mode, owner, size, mtime (UTC), link targets.")
    boolean longFormat;

    @Option(names = "-R", description = "List subdirectories recursively, with full paths.")
    boolean recursive;

    @Override
    public Integer call() throws Exception {
        try (ModuleImage img = ImageOptions.open(image)) {
            // Like ls -l, a link named last is shown as the link itself.
            ImageEntry e = ImageOptions.lookup(img, path, false);
            PrintWriter out = new PrintWriter(new java.io.BufferedWriter(new java.io.OutputStreamWriter(System.out, java.nio.charset.StandardCharsets.UTF_8)));
            if (!e.isDirectory()) {
                print(out, img, e, TerminalEscape.escape(path.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
            } else {
                list(out, img, e, recursive ? prefix(escapedPath(img, e)) : "");
            }
            out.flush();
        }
        return 0;
    }

    /** The entry's path from the root, each name escaped as GNU ls -b does. */
    private static String escapedPath(ModuleImage img, ImageEntry e) {
        return e.isRoot() ? "" : prefix(escapedPath(img, img.parent(e))) + TerminalEscape.escape(img.nameBytes(e));
    }

    private static String prefix(String dirPath) {
        return dirPath.isEmpty() ? "" : dirPath + "/";
    }

    private void list(PrintWriter out, ModuleImage img, ImageEntry dir, String prefix) throws ImageException {
        List<ImageEntry> children = img.list(dir);
        for (ImageEntry c : children) {
            String name = TerminalEscape.escape(img.nameBytes(c));
            print(out, img, c, prefix + name);
            if (recursive && c.isDirectory()) {
                list(out, img, c, prefix + name + "/");
            }
        }
    }

    private void print(PrintWriter out, ModuleImage img, ImageEntry e, String shown) throws ImageException {
        if (!longFormat) {
            out.println(shown);
            return;
        }
        String name = e.isSymlink() ? shown + " -> " + TerminalEscape.escape(img.readlinkBytes(e)) : shown;
        out.printf("%s %5d %5d %10d %s %s%n", modeString(e), e.uid(), e.gid(), e.size(),
                TIME.format(Instant.ofEpochSecond(e.mtimeSeconds())), name);
    }

    static String modeString(ImageEntry e) {
        StringBuilder sb = new StringBuilder(e.isDirectory() ? "d" : e.isSymlink() ? "l" : "-");
        int m = e.mode();
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) {
            sb.append((m & (1 << (8 - i))) != 0 ? rwx.charAt(i) : '-');
        }
        if ((m & 04000) != 0) {
            sb.setCharAt(3, (m & 0100) != 0 ? 's' : 'S');
        }
        if ((m & 02000) != 0) {
            sb.setCharAt(6, (m & 010) != 0 ? 's' : 'S');
        }
        if ((m & 01000) != 0) {
            sb.setCharAt(9, (m & 01) != 0 ? 't' : 'T');
        }
        return sb.toString();
    }
}

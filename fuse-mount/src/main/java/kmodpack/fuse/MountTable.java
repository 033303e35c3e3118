package kmodpack.fuse;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The mounts this process sees, from /proc/self/mountinfo. */
public final class MountTable {
    private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

    private MountTable() {
    }

    /** One line of mountinfo: where, what type ("fuse.kmodpack"), from what source. */
    public record Mount(String mountPoint, String type, String source, String options) {
        public boolean isKmodpack() {
            return type.equals(MountOptions.TYPE);
        }

        public boolean isFuse() {
            return type.equals("fuse") || type.startsWith("fuse.") || type.equals("fuseblk");
        }
    }

    public static List<Mount> read() throws IOException {
        return parse(Files.readAllBytes(MOUNTINFO));
    }

    /** The topmost mount at this exact directory, or null. */
    public static Mount at(Path mountPoint) throws IOException {
        String want = mountPoint.toString();
        Mount found = null;
        for (Mount m : read()) {
            if (m.mountPoint.equals(want)) {
                found = m;
            }
        }
        return found;
    }

    static List<Mount> parse(byte[] content) {
        List<Mount> out = new ArrayList<>();
        for (String line : new String(content, StandardCharsets.ISO_8859_1).split("\n")) {
            // id parent major:minor root mountpoint options [optional...] - type source superoptions
            String[] f = line.split(" ");
            int dash = -1;
            for (int i = 6; i < f.length; i++) {
                if (f[i].equals("-")) {
                    dash = i;
                    break;
                }
            }
            if (f.length < 10 || dash < 0 || dash + 3 > f.length) {
                continue;
            }
            out.add(new Mount(unescape(f[4]), unescape(f[dash + 1]), unescape(f[dash + 2]), unescape(f[5])));
        }
        return out;
    }

    /** The kernel writes space, tab, newline and backslash as \ooo; the bytes are UTF-8. */
    static String unescape(String s) {
        ByteArrayOutputStream b = new ByteArrayOutputStream(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && isOctal(s, i + 1)) {
                b.write(Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.write(c);
            }
        }
        return b.toString(StandardCharsets.UTF_8);
    }

    private static boolean isOctal(String s, int at) {
        if (at + 3 > s.length()) {
            return false;
        }
        for (int i = at; i < at + 3; i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '7') {
                return false;
            }
        }
        return true;
    }
}

package kmodpack.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Fnmatch against the C library's own fnmatch(3), which is what kmod calls. */
class FnmatchTest {
    interface C extends Library {
        int fnmatch(String pattern, String string, int flags);
    }

    private static final C LIBC = Native.load("c", C.class);

    private static void same(String pattern, String s) {
        boolean expected = LIBC.fnmatch(pattern, s, 0) == 0;
        assertEquals(expected, Fnmatch.matches(pattern, s), () -> "fnmatch(\"" + pattern + "\", \"" + s + "\")");
    }

    @Test
    void knownCases() {
        assertTrue(Fnmatch.matches("pci:v00008086d*sv*sd*bc*sc*i*", "pci:v00008086d00001502sv00001028sd00000000bc02sc00i00"));
        assertFalse(Fnmatch.matches("pci:v00008086d*", "pci:v00008087d0"));
        assertTrue(Fnmatch.matches("a[0-9]b", "a5b"));
        assertFalse(Fnmatch.matches("a[!0-9]b", "a5b"));
        assertTrue(Fnmatch.matches("a[", "a["));
        assertTrue(Fnmatch.matches("a\\*", "a*"));
        assertFalse(Fnmatch.matches("a\\*", "ab"));
        assertTrue(Fnmatch.matches("[[:digit:]]x", "7x"));
        assertTrue(Fnmatch.matches("*", ""));
        assertFalse(Fnmatch.matches("?", ""));
    }

    @Test
    void randomPatternsAgreeWithLibc() {
        Random r = new Random(42);
        String pAlpha = "ab-*?[]!^\\:.";
        String sAlpha = "ab-[]!^\\:.*?";
        for (int i = 0; i < 200_000; i++) {
            String p = random(r, pAlpha, 1 + r.nextInt(8));
            String s = random(r, sAlpha, r.nextInt(7));
            same(p, s);
        }
        // Bracket syntax: classes, equivalence classes, collating symbols, ranges, escapes.
        String bAlpha = "[]:=.!^-\\*?adlphiz";
        for (int i = 0; i < 200_000; i++) {
            same(random(r, bAlpha, 1 + r.nextInt(10)), random(r, "[]:=.!-\\adz", r.nextInt(5)));
        }
        String[] classes = {"[[:alpha:]]", "[[:digit:]x]", "[![:upper:]]", "[[:bogus:]]", "[[=a=]]", "[[.-.]]", "[]a]", "[!]a]", "[a-]", "[^a]"};
        for (String c : classes) {
            for (String s : new String[] {"a", "A", "5", "]", "-", "x", "^", "!", "["}) same(c, s);
        }
    }

    private static String random(Random r, String alpha, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) b.append(alpha.charAt(r.nextInt(alpha.length())));
        return b.toString();
    }

    @Test
    void aliasPatternsOfTheRealTreeAgreeWithLibc() throws Exception {
        TestTrees.Tree t = TestTrees.tree("amd64");
        List<String> lines = Files.readAllLines(t.moduleDir().resolve("modules.alias"), StandardCharsets.ISO_8859_1);
        Random r = new Random(7);
        int checked = 0;
        for (int i = 0; i < lines.size(); i += 3) {
            String[] f = lines.get(i).split(" ");
            if (f.length < 3) continue;
            String pattern = f[1];
            // The pattern against itself, against a neighbour's pattern, and mutated.
            same(pattern, pattern);
            same(pattern, lines.get(r.nextInt(lines.size())).split(" ")[1]);
            StringBuilder m = new StringBuilder(pattern.replace("*", "0").replace("?", "1"));
            if (m.length() > 0) m.setCharAt(r.nextInt(m.length()), (char) ('0' + r.nextInt(10)));
            same(pattern, m.toString());
            checked++;
        }
        assertTrue(checked > 5000);
    }

    @Test
    void bytesAboveAsciiAreCharactersToo() {
        String latin = new String(new byte[] {(byte) 0xe9, 'x'}, StandardCharsets.ISO_8859_1);
        assertTrue(Fnmatch.matches("?x", latin));
        assertFalse(Fnmatch.matches("[[:alpha:]]x", latin));
    }
}

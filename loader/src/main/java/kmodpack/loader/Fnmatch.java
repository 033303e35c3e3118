package kmodpack.loader;

/**
 * fnmatch(3) with flags 0 in the C locale, as glibc does it: {@code *}, {@code ?}, bracket
 * expressions with {@code !}/{@code ^}, ranges and {@code [:class:]}, backslash escapes; {@code /}
 * and a leading {@code .} are ordinary characters. libkmod matches alias patterns, softdep and
 * install names this way, so any difference here would change which module is chosen.
 *
 * <p>Strings are byte strings decoded as ISO-8859-1, so each char is one byte.
 */
public final class Fnmatch {
    private Fnmatch() {}

    public static boolean matches(String pattern, String string) {
        return match(pattern, 0, string, 0);
    }

    private static boolean match(String p, int pi, String s, int si) {
        final int pn = p.length(), sn = s.length();
        while (pi < pn) {
            char c = p.charAt(pi++);
            switch (c) {
                case '?':
                    if (si == sn) return false;
                    si++;
                    break;
                case '\\':
                    if (pi == pn) return false; // a trailing backslash never matches
                    c = p.charAt(pi++);
                    if (si == sn || s.charAt(si) != c) return false;
                    si++;
                    break;
                case '*': {
                    // Runs of '*' and '?' collapse; each '?' still consumes one character.
                    while (pi < pn && (p.charAt(pi) == '*' || p.charAt(pi) == '?')) {
                        if (p.charAt(pi) == '?') {
                            if (si == sn) return false;
                            si++;
                        }
                        pi++;
                    }
                    if (pi == pn) return true;
                    for (int k = si; k <= sn; k++) {
                        if (match(p, pi, s, k)) return true;
                    }
                    return false;
                }
                case '[': {
                    if (si == sn) return false;
                    int r = bracket(p, pi, s.charAt(si));
                    if (r == UNTERMINATED) {
                        // An unterminated '[' is an ordinary character.
                        if (s.charAt(si) != '[') return false;
                        si++;
                        break;
                    }
                    if (r < 0) return false;
                    pi = r;
                    si++;
                    break;
                }
                default:
                    if (si == sn || s.charAt(si) != c) return false;
                    si++;
            }
        }
        return si == sn;
    }

    private static final int UNTERMINATED = -2;

    /**
     * Matches {@code ch} against the bracket expression starting just after '['. Returns the
     * pattern index after the closing ']' on a match, -1 on no match, {@link #UNTERMINATED} if
     * there is no closing ']'.
     */
    private static int bracket(String p, int pi, char ch) {
        final int pn = p.length();
        boolean negate = false;
        if (pi < pn && (p.charAt(pi) == '!' || p.charAt(pi) == '^')) {
            negate = true;
            pi++;
        }
        boolean matched = false;
        boolean first = true;
        while (true) {
            if (pi >= pn) return UNTERMINATED;
            char c = p.charAt(pi++);
            if (c == ']' && !first) break;
            first = false;
            if (c == '\\') {
                if (pi >= pn) return UNTERMINATED;
                c = p.charAt(pi++);
            } else if (c == '[' && pi < pn && p.charAt(pi) == ':') {
                int end = p.indexOf(":]", pi + 1);
                if (end < 0) return UNTERMINATED;
                String cls = p.substring(pi + 1, end);
                Boolean in = inClass(cls, ch);
                if (in == null) return -1; // unknown class: glibc says no match
                if (in) matched = true;
                pi = end + 2;
                continue;
            } else if (c == '[' && pi < pn && (p.charAt(pi) == '=' || p.charAt(pi) == '.')) {
                char kind = p.charAt(pi);
                // [=c=] and [.c.] name a single character in the C locale.
                if (pi + 3 < pn && p.charAt(pi + 2) == kind && p.charAt(pi + 3) == ']') {
                    c = p.charAt(pi + 1);
                    pi += 4;
                    if (kind == '=') {
                        if (c == ch) matched = true;
                        continue;
                    }
                } else {
                    return -1;
                }
            }
            // Range c-d, unless '-' is the last character before ']'.
            if (pi + 1 < pn && p.charAt(pi) == '-' && p.charAt(pi + 1) != ']') {
                char hi = p.charAt(pi + 1);
                pi += 2;
                if (hi == '\\') {
                    if (pi >= pn) return UNTERMINATED;
                    hi = p.charAt(pi++);
                } else if (hi == '[' && pi < pn && p.charAt(pi) == '.') {
                    if (pi + 2 < pn && p.charAt(pi + 2) == '.' && pi + 3 < pn && p.charAt(pi + 3) == ']') {
                        hi = p.charAt(pi + 1);
                        pi += 4;
                    } else {
                        return -1;
                    }
                }
                if (c <= ch && ch <= hi) matched = true;
            } else if (c == ch) {
                matched = true;
            }
        }
        return matched != negate ? pi : -1;
    }

    private static Boolean inClass(String cls, char ch) {
        if (ch > 0x7f) return switch (cls) {
            case "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
                 "space", "upper", "xdigit" -> false;
            default -> null;
        };
        return switch (cls) {
            case "alnum" -> Character.isLetterOrDigit(ch);
            case "alpha" -> Character.isLetter(ch);
            case "blank" -> ch == ' ' || ch == '\t';
            case "cntrl" -> ch < 0x20 || ch == 0x7f;
            case "digit" -> ch >= '0' && ch <= '9';
            case "graph" -> ch > 0x20 && ch < 0x7f;
            case "lower" -> ch >= 'a' && ch <= 'z';
            case "print" -> ch >= 0x20 && ch < 0x7f;
            case "punct" -> ch > 0x20 && ch < 0x7f && !Character.isLetterOrDigit(ch);
            case "space" -> ch == ' ' || (ch >= '\t' && ch <= '\r');
            case "upper" -> ch >= 'A' && ch <= 'Z';
            case "xdigit" -> (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
            default -> null;
        };
    }
}

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
    /** glibc's limit on a character class name. */
    private static final int CHAR_CLASS_MAX_LENGTH = 256;

    /** The pattern character at i, or NUL past the end, as C code sees it. */
    private static char at(String p, int i) {
        return i < p.length() ? p.charAt(i) : '\0';
    }

    /**
     * Matches {@code fn} against the bracket expression whose '[' is just before {@code pi}, the
     * way glibc scans it: elements are tried in order and only after a match is the rest skipped
     * up to ']'. Returns the pattern index after the expression when it matches, -1 when not,
     * {@link #UNTERMINATED} when the '[' turned out to be an ordinary character.
     */
    private static int bracket(String p, int pi, char fn) {
        boolean not = at(p, pi) == '!' || at(p, pi) == '^';
        if (not) pi++;
        char c = at(p, pi++);
        boolean matched = false;
        scan:
        for (;;) {
            char cold;
            if (c == '\\') {
                if (at(p, pi) == '\0') return -1;
                c = at(p, pi++);
                // an escaped character is an ordinary one, and may start a range
            } else if (c == '[' && at(p, pi) == ':') {
                int startp = pi;
                StringBuilder name = new StringBuilder();
                boolean isClass = true;
                for (;;) {
                    if (name.length() == CHAR_CLASS_MAX_LENGTH) return -1;
                    char d = at(p, ++pi);
                    if (d == ':' && at(p, pi + 1) == ']') {
                        pi += 2;
                        break;
                    }
                    if (d < 'a' || d >= 'z') {
                        // cannot be a class name: the '[' is an ordinary member
                        pi = startp;
                        c = '[';
                        isClass = false;
                        break;
                    }
                    name.append(d);
                }
                if (isClass) {
                    Boolean in = inClass(name.toString(), fn);
                    if (in == null) return -1; // unknown class name
                    if (in) {
                        matched = true;
                        break scan;
                    }
                    c = at(p, pi++);
                    if (c == ']') break;
                    continue;
                }
            } else if (c == '[' && at(p, pi) == '=') {
                int startp = pi;
                char e = at(p, ++pi);
                if (e != '\0' && at(p, pi + 1) == '=' && at(p, pi + 2) == ']') {
                    pi += 3;
                    if (fn == e) {
                        matched = true;
                        break scan;
                    }
                    c = at(p, pi++);
                    if (c == ']') break;
                    continue;
                }
                pi = startp;
                c = '[';
            } else if (c == '\0') {
                return UNTERMINATED;
            } else if (c == '[' && at(p, pi) == '.') {
                int startp = pi;
                pi = collatingEnd(p, startp);
                if (pi < 0) return -1;
                int len = pi - startp - 3;
                boolean isRange = at(p, pi) == '-' && at(p, pi + 1) != '\0';
                if (len != 1) return -1; // the C locale names no collating elements
                char sym = at(p, startp + 1);
                if (!isRange && fn == sym) {
                    matched = true;
                    break scan;
                }
                cold = sym;
                c = at(p, pi++);
                int r = range(p, pi, c, cold, fn);
                if (r == -1) return -1;
                if (r == MATCHED) {
                    matched = true;
                    break scan;
                }
                if (r >= 0) {
                    pi = r;
                    c = at(p, pi++);
                }
                if (c == ']') break;
                continue;
            }
            // an ordinary member, possibly the start of a range
            boolean isRange = at(p, pi) == '-' && at(p, pi + 1) != '\0' && at(p, pi + 1) != ']';
            if (!isRange && c == fn) {
                matched = true;
                break;
            }
            cold = c;
            c = at(p, pi++);
            int r = range(p, pi, c, cold, fn);
            if (r == -1) return -1;
            if (r == MATCHED) {
                matched = true;
                break;
            }
            if (r >= 0) {
                pi = r;
                c = at(p, pi++);
            }
            if (c == ']') break;
        }
        if (!matched) return not ? pi : -1;
        // Skip the rest of the expression; an unterminated one loses here.
        for (;;) {
            char c2 = at(p, pi++);
            if (c2 == '\0') return UNTERMINATED; // glibc 2.36: the '[' is then an ordinary character
            if (c2 == '\\') {
                if (at(p, pi) == '\0') return -1;
                pi++;
            } else if (c2 == '[' && at(p, pi) == ':') {
                int startp = pi;
                int n = 0;
                boolean skipped = false;
                for (;;) {
                    char d = at(p, ++pi);
                    if (++n == CHAR_CLASS_MAX_LENGTH) return -1;
                    if (d == ':' && at(p, pi + 1) == ']') break;
                    if (d < 'a' || d >= 'z') {
                        pi = startp;
                        skipped = true;
                        break;
                    }
                }
                if (skipped) continue;
                pi += 2;
                c2 = at(p, pi++);
            } else if (c2 == '[' && at(p, pi) == '=') {
                char d = at(p, ++pi);
                if (d == '\0') return -1;
                d = at(p, ++pi);
                if (d != '=' || at(p, pi + 1) != ']') return -1;
                pi += 2;
                c2 = at(p, pi++);
            } else if (c2 == '[' && at(p, pi) == '.') {
                ++pi;
                for (;;) {
                    char d = at(p, ++pi);
                    if (d == '\0') return -1;
                    if (d == '.' && at(p, pi + 1) == ']') break;
                }
                pi += 2;
                c2 = at(p, pi++);
            }
            if (c2 == ']') break;
        }
        return not ? -1 : pi;
    }

    private static final int MATCHED = -3, NO_RANGE = -4;

    /**
     * A collating symbol "[.x.]" with {@code pi} at its '.': the index just past the closing
     * ".]", or -1 when there is none. The symbol's name is the characters in between.
     */
    private static int collatingEnd(String p, int pi) {
        for (;;) {
            char d = at(p, ++pi);
            if (d == '.' && at(p, pi + 1) == ']') return pi + 2;
            if (d == '\0') return -1;
        }
    }

    /**
     * After a member {@code cold}, {@code c} is the next pattern character (already consumed, pi
     * is past it). If it is '-' not followed by ']', this is a range: returns MATCHED, -1 (the
     * pattern loses), or the index just past the range's end. Otherwise NO_RANGE.
     */
    private static int range(String p, int pi, char c, char cold, char fn) {
        if (c != '-' || at(p, pi) == ']') return NO_RANGE;
        char cend = at(p, pi++);
        if (cend == '[' && at(p, pi) == '.') {
            int startp = pi;
            pi = collatingEnd(p, startp);
            if (pi < 0) return -1;
            int len = pi - startp - 3;
            if (len != 1) return -1;
            cend = at(p, startp + 1);
        } else {
            if (cend == '\\') cend = at(p, pi++);
            if (cend == '\0') return -1;
        }
        if (cold <= fn && fn <= cend) return MATCHED;
        return pi;
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

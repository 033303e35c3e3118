package kmodpack.cli;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Names as GNU {@code ls -b} (--quoting-style=escape) shows them in a UTF-8 locale, so that
 * a name in an image can never send control sequences to a terminal: \n \t \r \a \b \f \v,
 * other control bytes and bytes that are not valid UTF-8 as three-digit octal (\033), a
 * backslash as \\ and a space as "\ "; printable characters as they are.
 */
final class TerminalEscape {
    private TerminalEscape() {
    }

    static String escape(byte[] name) {
        StringBuilder sb = new StringBuilder(name.length + 8);
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(name);
        CharBuffer out = CharBuffer.allocate(2);
        while (in.hasRemaining()) {
            int start = in.position();
            out.clear();
            // One code point at a time: its bytes are kept for octal escapes if it is not printable.
            CoderResult r = decodeOne(dec, in, out);
            if (r.isError() || out.position() == 0) {
                int bad = r.isError() ? Math.max(1, r.length()) : 1;
                for (int i = 0; i < bad; i++) {
                    octal(sb, name[start + i]);
                }
                in.position(start + bad);
                continue;
            }
            out.flip();
            int cp = Character.codePointAt(out, 0);
            if (cp < 0x80) {
                ascii(sb, cp);
            } else if (printable(cp)) {
                sb.appendCodePoint(cp);
            } else {
                for (int i = start; i < in.position(); i++) {
                    octal(sb, name[i]);
                }
            }
        }
        return sb.toString();
    }

    /** Decodes the next code point (one or two chars) or reports why it cannot. */
    private static CoderResult decodeOne(CharsetDecoder dec, ByteBuffer in, CharBuffer out) {
        dec.reset();
        int lead = in.get(in.position()) & 0xff;
        int len = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        ByteBuffer one = in.duplicate();
        one.limit(Math.min(in.limit(), in.position() + len));
        CoderResult r = dec.decode(one, out, true);
        if (r.isError()) {
            return r;
        }
        if (one.hasRemaining() || out.position() == 0) {
            return CoderResult.malformedForLength(1); // cut short at the end of the name
        }
        in.position(one.position());
        return r;
    }

    private static void ascii(StringBuilder sb, int c) {
        switch (c) {
            case '\\' -> sb.append("\\\\");
            case ' ' -> sb.append("\\ ");
            case 7 -> sb.append("\\a");
            case '\b' -> sb.append("\\b");
            case '\t' -> sb.append("\\t");
            case '\n' -> sb.append("\\n");
            case 11 -> sb.append("\\v");
            case '\f' -> sb.append("\\f");
            case '\r' -> sb.append("\\r");
            default -> {
                if (c < 0x20 || c == 0x7f) {
                    octal(sb, (byte) c);
                } else {
                    sb.append((char) c);
                }
            }
        }
    }

    private static boolean printable(int cp) {
        return switch (Character.getType(cp)) {
            case Character.CONTROL, Character.UNASSIGNED, Character.SURROGATE,
                 Character.LINE_SEPARATOR, Character.PARAGRAPH_SEPARATOR -> false;
            default -> true;
        };
    }

    private static void octal(StringBuilder sb, byte b) {
        int v = b & 0xff;
        sb.append('\\').append((char) ('0' + (v >> 6))).append((char) ('0' + ((v >> 3) & 7))).append((char) ('0' + (v & 7)));
    }
}

package kmodpack.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.zip.Deflater;
import java.util.zip.CRC32;

import picocli.AutoComplete;
import picocli.CommandLine;

/**
 * Writes, at build time, the files the Debian package carries that come from the command line's
 * own model, so that they say what {@code --help} says:
 *
 * <pre>
 *   DIR/man/kmodpack.1.gz, DIR/man/kmodpack-SUBCOMMAND.1.gz   one man page per command
 *   DIR/completion/kmodpack                                     bash completion (picocli's)
 *   DIR/changelog.gz                                            the package's changelog entry
 * </pre>
 *
 * Usage: {@code PackageDocs DIR MAVEN_VERSION DEBIAN_VERSION MAINTAINER}. Gzip files carry no
 * timestamp; the changelog's date is SOURCE_DATE_EPOCH when set.
 */
public final class PackageDocs {
    private PackageDocs() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length != 4) {
            System.err.println("usage: PackageDocs DIR MAVEN_VERSION DEBIAN_VERSION MAINTAINER");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        String version = args[1];
        CommandLine cl = Main.documentedModel();
        Files.createDirectories(dir.resolve("man"));
        gzip(dir.resolve("man/kmodpack.1.gz"), ManPage.of(cl.getCommandSpec(), version));
        for (CommandLine sub : cl.getSubcommands().values()) {
            gzip(dir.resolve("man/" + ManPage.pageName(sub.getCommandSpec()) + ".1.gz"), ManPage.of(sub.getCommandSpec(), version));
        }
        Files.createDirectories(dir.resolve("completion"));
        // bash-completion sources the script: it needs no #! line.
        String completion = AutoComplete.bash("kmodpack", cl).replaceFirst("\\A#!.*\n", "");
        Files.writeString(dir.resolve("completion/kmodpack"), completion);
        gzip(dir.resolve("changelog.gz"), changelog(version, args[2], args[3]));
    }

    /** A native package's changelog: one entry for the version built. */
    static String changelog(String mavenVersion, String debianVersion, String maintainer) {
        String epoch = System.getenv("SOURCE_DATE_EPOCH");
        Instant when = epoch != null && epoch.matches("[0-9]+") ? Instant.ofEpochSecond(Long.parseLong(epoch)) : Instant.now();
        String date = DateTimeFormatter.RFC_1123_DATE_TIME.withLocale(Locale.ROOT).withZone(ZoneOffset.UTC).format(when);
        // RFC 1123 allows a one-digit day; Debian's changelog date is RFC 5322 with two digits.
        date = date.replaceFirst("^(\\w{3}, )(\\d) ", "$10$2 ").replace(" GMT", " +0000");
        return "kmodpack (" + debianVersion + ") unstable; urgency=medium\n\n"
                + "  * Built from kmodpack " + mavenVersion + ".\n\n"
                + " -- " + maintainer + "  " + date + "\n";
    }

    /**
     * gzip as {@code gzip -9n} writes it: best compression flagged in the header (Debian's tools
     * check the flag), no name, no timestamp. GZIPOutputStream can do neither.
     */
    private static void gzip(Path file, String text) throws IOException {
        byte[] data = text.getBytes(StandardCharsets.UTF_8);
        CRC32 crc = new CRC32();
        crc.update(data);
        Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION, true);
        deflater.setInput(data);
        deflater.finish();
        try (OutputStream out = Files.newOutputStream(file)) {
            // magic, deflate, no flags, mtime 0, XFL 2 = best compression, OS 3 = Unix
            out.write(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 2, 3});
            byte[] buf = new byte[8192];
            while (!deflater.finished()) {
                out.write(buf, 0, deflater.deflate(buf));
            }
            deflater.end();
            ByteBuffer trailer = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            trailer.putInt((int) crc.getValue()).putInt(data.length);
            out.write(trailer.array());
        }
    }
}

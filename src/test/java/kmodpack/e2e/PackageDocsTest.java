package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

import org.junit.jupiter.api.Test;

/**
 * The man pages and bash completion the build puts in the Debian package say what {@code --help}
 * says: every command has a page, and every option its help lists is on its page and completes.
 */
class PackageDocsTest {
    private static final Pattern LONG_OPTION = Pattern.compile("(?<![\\w-])--[a-z][a-z-]*");

    private static Path docs() {
        return Kmodpack.jar().getParent().resolve("package-docs");
    }

    private static String page(String name) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(docs().resolve("man/" + name + ".1.gz")))) {
            // troff writes a '-' of an option name as \-, and switches fonts with \fB ... \fR
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("\\-", "-").replaceAll("\\\\f[BIRP]", "");
        }
    }

    private static TreeSet<String> longOptions(String text) {
        TreeSet<String> set = new TreeSet<>();
        Matcher m = LONG_OPTION.matcher(text);
        while (m.find()) {
            set.add(m.group());
        }
        return set;
    }

    /** The subcommands kmodpack --help lists. */
    private static List<String> commands() throws Exception {
        Kmodpack.Result help = Kmodpack.run("--help");
        assertEquals(0, help.exit(), help.toString());
        List<String> names = new ArrayList<>();
        boolean inCommands = false;
        for (String line : help.out().split("\n")) {
            if (line.startsWith("Commands:")) {
                inCommands = true;
            } else if (inCommands && line.matches("  [a-z]\\S*( .*)?")) {
                names.add(line.trim().split("\\s+")[0]);
            }
        }
        assertTrue(names.contains("build") && names.contains("modprobe"), help.out());
        return names;
    }

    @Test
    void everyOptionOfEveryHelpIsOnItsManPage() throws Exception {
        String top = page("kmodpack");
        for (String cmd : commands()) {
            assertTrue(top.contains("kmodpack-" + cmd), "kmodpack(1) names kmodpack-" + cmd + "(1)");
            Kmodpack.Result help = Kmodpack.run(cmd, "--help");
            assertEquals(0, help.exit(), help.toString());
            String page = page("kmodpack-" + cmd);
            assertTrue(page.startsWith(".TH KMODPACK-" + cmd.toUpperCase() + " 1 "), page);
            TreeSet<String> missing = longOptions(help.out());
            missing.removeAll(longOptions(page));
            assertTrue(missing.isEmpty(), "kmodpack-" + cmd + "(1) lacks " + missing);
        }
    }

    @Test
    void completionKnowsEveryCommandAndModprobesOptions() throws Exception {
        String completion = Files.readString(docs().resolve("completion/kmodpack"));
        assertTrue(!completion.startsWith("#!"), "a sourced file: no #! line");
        assertTrue(completion.contains("complete -F _complete_kmodpack"), "registers the completion function");
        for (String cmd : commands()) {
            assertTrue(completion.contains(cmd), "completes " + cmd);
        }
        Kmodpack.Result help = Kmodpack.run("modprobe", "--help");
        TreeSet<String> missing = longOptions(help.out());
        missing.removeAll(longOptions(completion));
        assertTrue(missing.isEmpty(), "completion lacks modprobe's " + missing);
    }
}

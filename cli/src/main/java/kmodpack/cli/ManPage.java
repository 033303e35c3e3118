package kmodpack.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * A man page (troff, man macros) for one command of the picocli model: the synopsis, description,
 * options and arguments {@code --help} prints, in man's sections. Written directly rather than
 * through picocli's AsciiDoc generator so that the build needs no AsciiDoc converter.
 */
final class ManPage {
    /** What the Debian package adds around the command, for kmodpack(1). */
    private static final String[][] PACKAGE_FILES = {
        {"/boot/modules-VERSION", "The image of /lib/modules/VERSION, as kmodpack build VERSION writes it."},
        {"/etc/kernel/postinst.d/zz-kmodpack", "Builds /boot/modules-VERSION when a kernel package is installed; "
                + "a failed build is reported and does not fail the kernel's installation."},
        {"/etc/kernel/postrm.d/zz-kmodpack", "Deletes /boot/modules-VERSION when the kernel package is removed."},
        {"/etc/default/kmodpack", "Settings of those hooks: KERNEL_HOOKS=no turns them off; CODEC, LEVEL and "
                + "BLOCK_SIZE choose how images are packed."},
    };

    private final StringBuilder out = new StringBuilder();

    private ManPage() {
    }

    /** The page of {@code spec} (kmodpack itself or one of its subcommands). */
    static String of(CommandSpec spec, String version) {
        ManPage p = new ManPage();
        p.write(spec, version);
        return p.out.toString();
    }

    /** The page's name: kmodpack, or kmodpack-SUBCOMMAND. */
    static String pageName(CommandSpec spec) {
        return spec.qualifiedName("-");
    }

    private void write(CommandSpec spec, String version) {
        String name = pageName(spec);
        line(".TH " + escape(name.toUpperCase(Locale.ROOT)) + " 1 \"\" \"" + escape("kmodpack " + version)
                + "\" \"kmodpack manual\"");
        // Paths and option names must not be hyphenated or spread out.
        line(".nh");
        line(".ad l");
        section("NAME");
        List<String> description = paragraphs(spec.usageMessage().description());
        line(escape(name) + " \\- " + escape(firstSentence(description.isEmpty() ? "" : description.get(0))));

        section("SYNOPSIS");
        line(".nf");
        Help help = new Help(spec, Help.defaultColorScheme(Help.Ansi.OFF));
        for (String l : help.synopsis(0).strip().split("\n")) {
            text(l.stripTrailing());
        }
        line(".fi");

        if (!description.isEmpty()) {
            section("DESCRIPTION");
            for (int i = 0; i < description.size(); i++) {
                if (i > 0) {
                    line(".PP");
                }
                text(description.get(i));
            }
        }

        Map<String, CommandLine> subcommands = spec.subcommands();
        if (!subcommands.isEmpty()) {
            section("COMMANDS");
            for (CommandLine sub : subcommands.values()) {
                CommandSpec s = sub.getCommandSpec();
                line(".TP");
                line("\\fB" + escape(pageName(s)) + "\\fR(1)");
                List<String> d = paragraphs(s.usageMessage().description());
                text(d.isEmpty() ? "" : firstSentence(d.get(0)) + ".");
            }
        }

        List<OptionSpec> ungrouped = new ArrayList<>();
        for (OptionSpec o : spec.options()) {
            if (!o.hidden() && o.group() == null) {
                ungrouped.add(o);
            }
        }
        if (!ungrouped.isEmpty() || !spec.argGroups().isEmpty()) {
            section("OPTIONS");
            for (ArgGroupSpec g : spec.argGroups()) {
                if (g.heading() != null) {
                    line(".SS " + escape(format(g.heading()).strip().replaceAll(":$", "")));
                }
                for (OptionSpec o : g.options()) {
                    if (!o.hidden()) {
                        option(o);
                    }
                }
            }
            if (!spec.argGroups().isEmpty() && !ungrouped.isEmpty()) {
                line(".SS Common");
            }
            ungrouped.forEach(this::option);
        }

        List<PositionalParamSpec> positionals = spec.positionalParameters().stream().filter(p -> !p.hidden()).toList();
        if (!positionals.isEmpty()) {
            section("ARGUMENTS");
            for (PositionalParamSpec p : positionals) {
                line(".TP");
                line("\\fI" + escape(p.paramLabel()) + "\\fR");
                text(p.description().length > 0 ? format(String.join(" ", p.description())) : "");
            }
        }

        Map<String, String> exitCodes = spec.usageMessage().exitCodeList();
        if (!exitCodes.isEmpty()) {
            section("EXIT STATUS");
            exitCodes.forEach((code, meaning) -> {
                line(".TP");
                line("\\fB" + escape(format(code).strip()) + "\\fR");
                text(format(meaning).strip());
            });
        }

        if (spec.parent() == null) {
            section("FILES");
            for (String[] f : PACKAGE_FILES) {
                line(".TP");
                line("\\fI" + escape(f[0]) + "\\fR");
                text(f[1]);
            }
        }

        section("SEE ALSO");
        List<String> refs = new ArrayList<>();
        if (spec.parent() != null) {
            refs.add("\\fB" + escape(pageName(spec.parent())) + "\\fR(1)");
        }
        for (CommandLine sub : subcommands.values()) {
            refs.add("\\fB" + escape(pageName(sub.getCommandSpec())) + "\\fR(1)");
        }
        if (spec.name().equals("modprobe")) {
            refs.add("\\fBmodprobe\\fR(8)");
            refs.add("\\fBmodprobe.d\\fR(5)");
        }
        if (spec.name().equals("mount")) {
            refs.add("\\fBfuse\\fR(8)");
        }
        line(String.join(",\n", refs));
    }

    private void option(OptionSpec o) {
        line(".TP");
        List<String> names = new ArrayList<>();
        for (String n : o.names()) {
            names.add("\\fB" + escape(n) + "\\fR");
        }
        String label = o.arity().max() > 0 ? o.paramLabel() : null;
        String last = names.remove(names.size() - 1);
        String sep = o.longestName().startsWith("--") ? "=" : " ";
        names.add(label == null ? last : last + sep + "\\fI" + escape(label) + "\\fR");
        line(String.join(", ", names));
        text(format(String.join(" ", o.description())));
    }

    private void section(String title) {
        line(".SH " + title);
    }

    private void line(String troff) {
        out.append(troff).append('\n');
    }

    /** Running text: escaped, each line kept clear of troff's control characters. */
    private void text(String plain) {
        for (String l : plain.split("\n")) {
            String e = escape(l.strip());
            if (e.isEmpty()) {
                continue;
            }
            line(e.startsWith(".") || e.startsWith("'") ? "\\&" + e : e);
        }
    }

    /**
     * Help's description lines as paragraphs: a line that does not end a sentence is wrapped
     * text that the next line continues.
     */
    private static List<String> paragraphs(String[] lines) {
        List<String> paragraphs = new ArrayList<>();
        StringBuilder p = new StringBuilder();
        for (String l : lines) {
            String t = format(l).strip();
            p.append(p.length() > 0 ? " " : "").append(t);
            if (t.isEmpty() || t.matches(".*[.:!?]$")) {
                if (p.length() > 0) {
                    paragraphs.add(p.toString().strip());
                }
                p.setLength(0);
            }
        }
        if (p.length() > 0) {
            paragraphs.add(p.toString());
        }
        return paragraphs;
    }

    /** picocli help strings are format strings: %n is a line break, %% a percent sign. */
    private static String format(String s) {
        return s.replace("%n", "\n").replace("%%", "%");
    }

    private static String firstSentence(String s) {
        String f = format(s).replace('\n', ' ').strip();
        int end = f.indexOf(". ");
        f = end > 0 ? f.substring(0, end) : f;
        return f.endsWith(".") ? f.substring(0, f.length() - 1) : f;
    }

    /** Backslashes and hyphens as troff wants them: a '-' in an option name must stay a minus. */
    static String escape(String s) {
        return s.replace("\\", "\\e").replace("-", "\\-");
    }
}

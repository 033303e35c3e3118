package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code kmodpack modprobe -D} against kmod's {@code modprobe -D} on the Debian reference trees:
 * every module of modules.dep and a name made from every modules.alias pattern, with an empty
 * configuration, a test configuration using every directive, and the host's own configuration.
 * Output must be byte-identical; exit codes equal; stderr equal except that we name the image
 * where modprobe names the directory.
 */
class ModprobeDependsTest {
    static Path jar;
    static Path home;

    @TempDir static Path tmp;

    @BeforeAll
    static void setUp() throws Exception {
        jar = Path.of(System.getProperty("kmodpack.jar"));
        home = Path.of(System.getProperty("kmodpack.home"));
        Assumptions.assumeTrue(Files.isExecutable(Path.of("/sbin/modprobe")) || Files.isExecutable(Path.of("/usr/sbin/modprobe")),
                "kmod's modprobe is the reference");
    }

    record Tree(Path root, String version) {
        Path moduleDir() {
            return root.resolve("lib/modules/" + version);
        }
    }

    record Result(int exit, byte[] out, String err) {}

    static Tree tree(String arch) throws Exception {
        Path home = Path.of(System.getProperty("kmodpack.home"));
        Process p = new ProcessBuilder(home.resolve("scripts/fetch-kernel-tree").toString(), arch)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String[] f = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim().split(" ");
        assertEquals(0, p.waitFor(), "fetch-kernel-tree " + arch);
        return new Tree(Path.of(f[0]), f[1]);
    }

    static Result run(List<String> cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Path err = Files.createTempFile("kmodpack-err", ".txt");
        try {
            pb.redirectError(err.toFile());
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            int rc = p.waitFor();
            return new Result(rc, out, Files.readString(err, StandardCharsets.ISO_8859_1));
        } finally {
            Files.deleteIfExists(err);
        }
    }

    static String modprobeBinary() {
        return Files.isExecutable(Path.of("/sbin/modprobe")) ? "/sbin/modprobe" : "/usr/sbin/modprobe";
    }

    /** The same modprobe arguments to both; returns nothing, asserts equality. */
    static void compare(Tree t, List<String> opts, List<String> args) throws Exception {
        List<String> ref = new ArrayList<>(List.of(modprobeBinary(), "-d", t.root().toString(), "-S", t.version()));
        ref.addAll(opts);
        ref.addAll(args);
        List<String> ours = new ArrayList<>(ModprobeCli.command(Kmodpack.jar()));
        ours.addAll(List.of("-d", t.root().toString(), "-S", t.version(), "--image", ModprobeCli.image(t.root(), t.version()).toString()));
        ours.addAll(opts);
        ours.addAll(args);
        Result r = run(ref), o = run(ours);
        String what = String.join(" ", opts) + " " + (args.size() > 3 ? args.size() + " names" : String.join(" ", args));
        assertEquals(r.exit(), o.exit(), "exit status: " + what + "\n" + o.err());
        if (!Arrays.equals(r.out(), o.out())) {
            String[] a = new String(r.out(), StandardCharsets.ISO_8859_1).split("\n", -1);
            String[] b = new String(o.out(), StandardCharsets.ISO_8859_1).split("\n", -1);
            int i = 0;
            while (i < Math.min(a.length, b.length) && a[i].equals(b[i])) i++;
            throw new AssertionError("stdout differs at line " + (i + 1) + " for " + what + "\nmodprobe: "
                    + (i < a.length ? a[i] : "<end>") + "\nkmodpack: " + (i < b.length ? b[i] : "<end>"));
        }
        assertEquals(normalize(r.err()), normalize(o.err()), "stderr: " + what);
    }

    /**
     * modprobe names the directory, we name the image; its debug build adds source positions;
     * libkmod prints its context's address.
     */
    static String normalize(String err) {
        return err.replaceAll(" not found in (directory|image) \\S+", " not found in STORE")
                .replaceAll("(?m)^(libkmod|modprobe): ERROR [^ ]+ [^ ]+ ", "modprobe: ERROR: ")
                .replaceAll("(?m)^(libkmod|modprobe): ERROR: \\S+:\\d+ \\w+\\(\\) ", "modprobe: ERROR: ")
                .replaceAll("\\bctx=0x[0-9a-f]+ ", "ctx=CTX ");
    }

    static List<String> moduleNames(Tree t) throws IOException {
        List<String> names = new ArrayList<>();
        for (String line : Files.readAllLines(t.moduleDir().resolve("modules.dep"), StandardCharsets.ISO_8859_1)) {
            String path = line.substring(0, line.indexOf(':'));
            String base = path.substring(path.lastIndexOf('/') + 1);
            names.add(base.substring(0, base.indexOf('.')));
        }
        return names;
    }

    /** A name each alias pattern matches: '*' empty, '?' one letter, a bracket its first member. */
    static List<String> aliasNames(Tree t) throws IOException {
        Set<String> names = new LinkedHashSet<>();
        for (String line : Files.readAllLines(t.moduleDir().resolve("modules.alias"), StandardCharsets.ISO_8859_1)) {
            String[] f = line.split(" ");
            if (f.length < 3 || !f[0].equals("alias")) continue;
            names.add(AliasNames.matching(f[1]));
        }
        return new ArrayList<>(names);
    }

    static void compareInChunks(Tree t, List<String> opts, List<String> names) throws Exception {
        List<String> all = new ArrayList<>(opts);
        all.add("-a");
        all.add("-D");
        // One process per chunk keeps the command line short; -a output is the runs' concatenation.
        for (int i = 0; i < names.size(); i += 15000) {
            compare(t, all, names.subList(i, Math.min(names.size(), i + 15000)));
        }
    }

    static Path emptyConfig() throws IOException {
        return Files.createDirectories(tmp.resolve("empty-config"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"amd64", "arm64"})
    void everyModuleAndAliasWithAnEmptyConfiguration(String arch) throws Exception {
        Tree t = tree(arch);
        ModprobeCli.prepareImage(jar, t.root(), t.version(), tmp);
        List<String> opts = List.of("-C", emptyConfig().toString());
        List<String> mods = moduleNames(t);
        List<String> aliases = aliasNames(t);
        assertTrue(mods.size() > 3000 && aliases.size() > 2000, mods.size() + " modules, " + aliases.size() + " aliases");
        compareInChunks(t, opts, mods);
        compareInChunks(t, opts, aliases);
    }

    @ParameterizedTest
    @ValueSource(strings = {"amd64", "arm64"})
    void everyModuleAndAliasWithTheTestConfiguration(String arch) throws Exception {
        Tree t = tree(arch);
        ModprobeCli.prepareImage(jar, t.root(), t.version(), tmp);
        Path conf = TestConfig.write(tmp.resolve("conf-" + arch));
        List<String> opts = List.of("-C", conf.resolve("modprobe.d").toString(), "-C", conf.resolve("single.conf").toString());
        List<String> names = new ArrayList<>(TestConfig.NAMES);
        names.addAll(moduleNames(t));
        names.addAll(aliasNames(t));
        compareInChunks(t, opts, names);
    }

    @Test
    void singleRunsWithTheTestConfiguration() throws Exception {
        Tree t = tree("amd64");
        ModprobeCli.prepareImage(jar, t.root(), t.version(), tmp);
        Path conf = TestConfig.write(tmp.resolve("conf-single"));
        List<String> opts = List.of("-C", conf.resolve("modprobe.d").toString(), "-C", conf.resolve("single.conf").toString());
        // Without -a: parameters from the command line, and each name on its own.
        for (String name : TestConfig.NAMES) {
            List<String> args = new ArrayList<>(List.of("-D", name));
            args.addAll(List.of("p=1", "q=two words", "r='x y'", "u=café"));
            compare(t, opts, args);
        }
        for (String extra : List.of("-i", "-b", "-R", "-q", "-v")) {
            compare(t, opts, List.of("-D", extra, "ext4"));
            compare(t, opts, List.of("-D", extra, "crypto-crc32c"));
            compare(t, opts, List.of("-D", extra, "pcspkr"));
        }
        compare(t, opts, List.of("-D", "-r", "dummy"));
        compare(t, opts, List.of("-D", "-r", "-a", "crc32c_generic", "no-such-thing"));
    }

    @Test
    void theHostConfiguration() throws Exception {
        Tree t = tree("amd64");
        ModprobeCli.prepareImage(jar, t.root(), t.version(), tmp);
        compareInChunks(t, List.of(), moduleNames(t));
    }

    @ParameterizedTest
    @ValueSource(strings = {"no-such-module", "x]", "a[b", "symbol:no_such_symbol", "ext4.ko"})
    void unknownNames(String name) throws Exception {
        Tree t = tree("amd64");
        ModprobeCli.prepareImage(jar, t.root(), t.version(), tmp);
        compare(t, List.of("-C", emptyConfig().toString()), List.of("-D", name));
        compare(t, List.of("-C", emptyConfig().toString()), List.of("-q", "-D", name));
        compare(t, List.of("-C", emptyConfig().toString()), List.of("-a", "-D", name, "ext4"));
        compare(t, List.of("-C", emptyConfig().toString()), List.of("-D"));
    }

    /** How the tests run our modprobe, and where its image comes from. */
    static final class ModprobeCli {
        private ModprobeCli() {}

        private static final java.util.Map<String, Path> IMAGES = new java.util.HashMap<>();

        /** kmodpack modprobe as a user runs it: the packaged jar's subcommand. */
        static List<String> command(Path jar) {
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            return List.of(java, "-XX:TieredStopAtLevel=1", "-jar", jar.toString(), "modprobe");
        }

        private static Path imageDir;

        /** Images outlive each test class's temporary directory: each tree is packed once per run. */
        private static synchronized Path imageDir() throws IOException {
            if (imageDir == null) {
                Path d = Files.createTempDirectory("kmodpack-modprobe-e2e");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try (var files = Files.walk(d)) {
                        files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                    } catch (IOException ignored) {
                        // best effort: the directory is temporary
                    }
                }));
                imageDir = d;
            }
            return imageDir;
        }

        /** The image packed from a tree by {@link #prepareImage}. */
        static Path image(Path root, String version) {
            Path p = IMAGES.get(root + " " + version);
            if (p == null) throw new IllegalStateException("no image packed for " + root);
            return p;
        }

        /** Packs the tree once per test run (fast LZ4: resolution does not depend on the codec). */
        static synchronized void prepareImage(Path jar, Path root, String version, Path work) throws Exception {
            String key = root + " " + version;
            if (IMAGES.containsKey(key)) return;
            Path out = imageDir().resolve(root.getParent().getFileName() + "-modules-" + version + ".img");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process p = new ProcessBuilder(java, "-jar", jar.toString(), "build", "-b", root.toString(), "-o", out.toString(),
                    "--codec", "lz4", "--level", "0", version)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            assertEquals(0, p.waitFor(), "kmodpack build " + root);
            IMAGES.put(key, out);
        }
    }

    /** Turns an alias pattern into a name it matches. */
    static final class AliasNames {
        private AliasNames() {}

        static String matching(String pattern) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < pattern.length(); i++) {
                char c = pattern.charAt(i);
                switch (c) {
                    case '*' -> { }
                    case '?' -> b.append('Z');
                    case '\\' -> {
                        if (i + 1 < pattern.length()) b.append(pattern.charAt(++i));
                    }
                    case '[' -> {
                        int close = pattern.indexOf(']', i + 2);
                        if (close < 0) {
                            b.append(c);
                            break;
                        }
                        String set = pattern.substring(i + 1, close);
                        if (set.startsWith("!") || set.startsWith("^")) {
                            String excluded = set.substring(1);
                            char pick = '0';
                            while (inSet(excluded, pick)) pick++;
                            b.append(pick);
                        } else {
                            b.append(set.charAt(0));
                        }
                        i = close;
                    }
                    default -> b.append(c);
                }
            }
            return b.toString();
        }

        private static boolean inSet(String set, char c) {
            for (int i = 0; i < set.length(); i++) {
                if (i + 2 < set.length() && set.charAt(i + 1) == '-') {
                    if (set.charAt(i) <= c && c <= set.charAt(i + 2)) return true;
                    i += 2;
                } else if (set.charAt(i) == c) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A configuration that uses every directive, with names chosen to meet each rule. */
    static final class TestConfig {
        private TestConfig() {}

        static final List<String> NAMES = List.of("ext4", "my-ext4", "myfs-anything", "nvidia-gpu", "nothere-alias",
                "crypto-crc32c", "xfs", "jbd2", "fuse", "loop", "nbd", "dummy", "fakefs", "bonding", "snd-dummy",
                "pcspkr", "floppy", "vfs-fat", "sym-test", "vfat", "symbol:jbd2_journal_start", "symbol:nosuch",
                "pci:v00008086d00001502sv00001028sd00000000bc02sc00i00", "fs-ext4", "crc32c", "net-pf-10", "unix",
                "ext4.ko", "x]", "a[b", "fs-*", "bond0", "squashfs", "btrfs");

        static Path write(Path dir) throws IOException {
            Path d = Files.createDirectories(dir.resolve("modprobe.d"));
            Files.writeString(d.resolve("10-test.conf"), String.join("\n",
                    "# every directive modprobe.d knows",
                    "alias my-ext4 ext4",
                    "alias myfs-* btrfs",
                    "alias nvidia-gpu nouveau",
                    "alias nothere-alias no_such_module",
                    "alias crypto-crc32c crc32c_generic",
                    "alias ext4 xfs",
                    "options ext4 journal_ioprio=3\tdebug_want_extra_isize=1",
                    "options my-ext4 alias_opt=1",
                    "options jbd2 jbd2_debug=2",
                    "options crc32c-generic  spaced=1",
                    "options snd-dummy index=-2 enable=1",
                    "softdep fuse pre: loop post: squashfs",
                    "softdep loop pre: fuse",
                    "softdep xfs pre: my-ext4 nothere-alias post: crc32c",
                    "softdep snd_dummy pre: snd-pcsp",
                    "softdep dumm[y] pre: bonding",
                    "blacklist pcspkr",
                    "blacklist snd-pcsp",
                    "blacklist floppy",
                    "install dummy /bin/true $CMDLINE_OPTS",
                    "install fakefs echo installing fakefs $CMDLINE_OPTS; true",
                    "install bond* /bin/echo bond $CMDLINE_OPTS",
                    "install snd_dummy /bin/false",
                    "remove dummy /bin/true",
                    "options fakefs opt=1",
                    "softdep nbd pre: fakefs \\",
                    "    post: dummy",
                    "options \\",
                    "  vfat utf8=1",
                    ""));
            Files.writeString(d.resolve("20-more.alias"), "alias vfs-fat vfat\nalias sym-test symbol:jbd2_journal_start\n"
                    + "options vfat shortname=mixed\n");
            Files.writeString(d.resolve("05-first.conf"), "softdep ext4 pre: fuse post: nbd\noptions bonding max_bonds=2\n");
            Files.writeString(d.resolve("ignored.txt"), "alias ext4 loop\n");
            Files.writeString(dir.resolve("single.conf"), "options dummy numdummies=3\nsoftdep squashfs post: crc32c\n");
            return dir;
        }
    }
}

package kmodpack.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the packaged tool as a user would: a separate process on the built jar. */
public final class Kmodpack {
    private Kmodpack() {
    }

    public record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    public static Path jar() {
        String p = System.getProperty("kmodpack.jar");
        if (p == null || !Files.exists(Path.of(p))) {
            throw new IllegalStateException("the kmodpack jar is missing (run through mvn verify)");
        }
        return Path.of(p);
    }

    public static List<String> command(String... args) {
        return command(List.of(), args);
    }

    /** The command line with extra JVM options (such as a small -Xmx) before the jar. */
    public static List<String> command(List<String> jvmOptions, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Dfile.encoding=UTF-8");
        cmd.addAll(jvmOptions);
        cmd.add("-jar");
        cmd.add(jar().toString());
        cmd.addAll(List.of(args));
        return cmd;
    }

    public static Result run(String... args) throws IOException, InterruptedException {
        return run(null, args);
    }

    /** Runs with {@code stdin} as standard input (null for none). */
    public static Result run(byte[] stdin, String... args) throws IOException, InterruptedException {
        return run(stdin, List.of(), args);
    }

    /** Runs with extra JVM options. */
    public static Result runJvm(List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        return run(null, jvmOptions, args);
    }

    private static Result run(byte[] stdin, List<String> jvmOptions, String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile("kmodpack-out", "");
        Path err = Files.createTempFile("kmodpack-err", "");
        try {
            ProcessBuilder pb = new ProcessBuilder(command(jvmOptions, args)).redirectOutput(out.toFile()).redirectError(err.toFile());
            Process p = pb.start();
            if (stdin != null) {
                p.getOutputStream().write(stdin);
            }
            p.getOutputStream().close();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IllegalStateException("kmodpack " + String.join(" ", args) + " did not finish");
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Raw standard output, for commands that print file contents. */
    public static byte[] runBytes(String... args) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command(args)).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        p.getOutputStream().close();
        byte[] b = p.getInputStream().readAllBytes();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("kmodpack " + String.join(" ", args) + " exited " + p.exitValue());
        }
        return b;
    }
}

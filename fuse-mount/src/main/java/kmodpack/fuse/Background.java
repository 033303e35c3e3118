package kmodpack.fuse;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A server that outlives the command that started it. Java cannot fork, so the command starts
 * a second JVM (same runtime, same options) in server mode and waits: the server starts a new
 * session, mounts, and once the mount point answers writes {@link #READY} on its standard output
 * and lets go of its pipes (they become /dev/null). A server that fails before that writes one
 * error line on its standard error, which the command passes on.
 */
public final class Background {
    static final String READY = "kmodpack-server-ready";
    static final String FAILED = "kmodpack-server-failed";
    private static final long START_TIMEOUT_SECONDS = 120;

    private Background() {
    }

    /**
     * The command line that runs {@code mainClass} with {@code args} on this same runtime, with
     * this JVM's options plus what a server needs (UTF-8 names, native access on JDK 24+, a heap
     * of {@code heapMegabytes}).
     */
    public static List<String> javaCommand(String mainClass, List<String> args, int heapMegabytes) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        List<String> jvm = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // A debugger agent would try to listen on the same port twice.
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-Xrunjdwp")) {
                jvm.add(a);
            }
        }
        addIfMissing(jvm, "-Dfile.encoding=", "-Dfile.encoding=UTF-8");
        // A long-lived server with a small, steady heap, sized by the image's block size
        // (Mounter.heapMegabytes). The default collector sizes its heap to the machine and peaked
        // at ~1 GB resident over a whole-tree read; this one stays near 130 MB.
        if (jvm.stream().noneMatch(a -> a.matches("-XX:\\+Use\\w*GC"))) {
            jvm.add("-XX:+UseSerialGC");
        }
        // The command's own heap options were for the command, not for the server.
        jvm.removeIf(a -> a.startsWith("-Xmx") || a.startsWith("-XX:TieredStopAtLevel"));
        jvm.add("-Xmx" + heapMegabytes + "m");
        addIfMissing(jvm, "-Xms", "-Xms8m");
        addIfMissing(jvm, "-XX:-UsePerfData", "-XX:-UsePerfData");
        addIfMissing(jvm, "-Dsun.jnu.encoding=", "-Dsun.jnu.encoding=UTF-8");
        if (Runtime.version().feature() >= 24) {
            addIfMissing(jvm, "--enable-native-access", "--enable-native-access=ALL-UNNAMED");
            addIfMissing(jvm, "--sun-misc-unsafe-memory-access", "--sun-misc-unsafe-memory-access=allow");
        }
        cmd.addAll(jvm);
        String cp = System.getProperty("java.class.path");
        String launched = System.getProperty("sun.java.command", "");
        if (cp != null && cp.endsWith(".jar") && !cp.contains(File.pathSeparator) && launched.startsWith(cp)) {
            cmd.add("-jar");
            cmd.add(cp);
        } else {
            cmd.add("-cp");
            cmd.add(cp);
            cmd.add(mainClass);
        }
        cmd.addAll(args);
        return cmd;
    }

    private static void addIfMissing(List<String> jvm, String prefix, String option) {
        for (String a : jvm) {
            if (a.startsWith(prefix)) {
                return;
            }
        }
        jvm.add(option);
    }

    /**
     * Starts the server command and returns once it reports ready.
     *
     * @throws MountException with the server's own error line when it fails to start
     */
    public static void start(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
        CompletableFuture<Boolean> ready = CompletableFuture.supplyAsync(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    if (line.equals(READY)) {
                        return true;
                    }
                }
                return false;
            } catch (IOException e) {
                return false;
            }
        });
        boolean ok;
        try {
            ok = ready.get(START_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            p.destroy();
            throw new MountException("the server did not report ready within " + START_TIMEOUT_SECONDS + " s; stopped it");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountException("interrupted while waiting for the server");
        } catch (ExecutionException e) {
            ok = false;
        }
        if (ok) {
            return;
        }
        int code;
        try {
            code = p.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MountException("interrupted while waiting for the server");
        }
        String message = err.join().strip();
        if (message.startsWith("kmodpack: ")) {
            message = message.substring("kmodpack: ".length());
        }
        throw new MountException(message.isEmpty() ? "the server exited with status " + code + " before the mount was ready"
                : message.replace('\n', ' '));
    }

    private static String drain(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** In the server, first thing: a session of its own (no terminal, no SIGHUP), and / as working directory. */
    public static void detachSession() {
        LinuxCalls.setsid();
        LinuxCalls.chdir(LinuxCalls.cString("/"));
    }

    /**
     * In a server that failed before the mount answered: its exit status, for a launcher that
     * waits on the server's standard output rather than on its exit (bin/kmodpack).
     */
    public static void reportFailure(int status) {
        System.out.println(FAILED + " " + status);
        System.out.flush();
    }

    /** In the server, once the mount answers: tell the waiting command, then drop the pipes to it. */
    public static void reportReady() {
        System.out.println(READY);
        System.out.flush();
        System.err.flush();
        int nul;
        try {
            nul = LinuxCalls.open(LinuxCalls.cString("/dev/null"), LinuxCalls.O_RDWR);
        } catch (com.sun.jna.LastErrorException e) {
            return;
        }
        LinuxCalls.dup2(nul, 0);
        LinuxCalls.dup2(nul, 1);
        LinuxCalls.dup2(nul, 2);
        if (nul > 2) {
            LinuxCalls.close(nul);
        }
    }
}

package kmodpack.loader;

import java.io.PrintStream;

/**
 * modprobe's messages: {@code modprobe: LEVEL: text} on stderr, filtered by the verbosity that
 * -q and -v set. A FATAL message ends the run, as in modprobe.
 */
public final class Log {
    public static final int EMERG = 0, CRIT = 2, ERR = 3, WARNING = 4, NOTICE = 5, INFO = 6, DEBUG = 7;

    private final PrintStream err;
    private final String program;
    private int verbose = WARNING;

    /** Thrown by a FATAL message; the command turns it into exit status 1. */
    public static final class Fatal extends RuntimeException {
        Fatal() {
            super(null, null, false, false);
        }
    }

    public Log(PrintStream err, String program) {
        this.err = err;
        this.program = program;
    }

    public void setVerbose(int verbose) {
        this.verbose = verbose;
    }

    public int verbose() {
        return verbose;
    }

    private static String name(int prio) {
        return switch (prio) {
            case CRIT -> "FATAL";
            case ERR -> "ERROR";
            case WARNING -> "WARNING";
            case NOTICE -> "NOTICE";
            case INFO -> "INFO";
            case DEBUG -> "DEBUG";
            default -> String.format("LOG-%03d", prio);
        };
    }

    /** A message at {@code prio}; CRIT (FATAL) messages that are shown also end the run. */
    public void log(int prio, String msg) {
        if (prio > verbose) return;
        err.print(program + ": " + name(prio) + ": " + msg + "\n");
        err.flush();
        if (prio <= CRIT) throw new Fatal();
    }

    /** Printed whatever the verbosity: libkmod reports bad configuration lines before -q applies. */
    public void always(int prio, String msg) {
        err.print(program + ": " + name(prio) + ": " + msg + "\n");
        err.flush();
    }

    public void error(String msg) {
        log(ERR, msg);
    }

    public void info(String msg) {
        log(INFO, msg);
    }
}

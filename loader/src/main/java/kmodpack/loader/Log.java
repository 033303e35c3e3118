package kmodpack.loader;

/**
 * modprobe's messages, filtered by the verbosity that -q and -v set, as libkmod's log is. Where
 * they go and how they look is the command's business: shown messages are handed to a
 * {@link Sink}, as libkmod hands them to the log function the tool sets. A FATAL message ends
 * the run, as in modprobe.
 */
public final class Log {
    public static final int EMERG = 0, CRIT = 2, ERR = 3, WARNING = 4, NOTICE = 5, INFO = 6, DEBUG = 7;

    /** Receives every message that is shown. */
    public interface Sink {
        void message(int priority, String text);
    }

    private final Sink sink;
    private int verbose = WARNING;

    /** Thrown by a FATAL message; the command turns it into exit status 1. */
    public static final class Fatal extends RuntimeException {
        Fatal() {
            super(null, null, false, false);
        }
    }

    public Log(Sink sink) {
        this.sink = sink;
    }

    public void setVerbose(int verbose) {
        this.verbose = verbose;
    }

    public int verbose() {
        return verbose;
    }

    /** The level word modprobe prints for a priority: FATAL, ERROR, WARNING, ... */
    public static String levelName(int prio) {
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
        sink.message(prio, msg);
        if (prio <= CRIT) throw new Fatal();
    }

    /** Printed whatever the verbosity: libkmod reports bad configuration lines before -q applies. */
    public void always(int prio, String msg) {
        sink.message(prio, msg);
    }

    public void error(String msg) {
        log(ERR, msg);
    }

    public void info(String msg) {
        log(INFO, msg);
    }
}

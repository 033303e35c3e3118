package kmodpack.fuse;

import java.io.PrintStream;

import com.sun.jna.Memory;

/**
 * Where the server's messages go: standard error in the foreground, the system log (syslog(3),
 * ident "kmodpack", facility daemon) once the server has detached into the background.
 */
public abstract class ServerLog {
    public abstract void error(String message);

    public abstract void info(String message);

    /** One "kmodpack: ..." line per message on a stream. */
    public static ServerLog to(PrintStream out) {
        return new ServerLog() {
            @Override
            public void error(String message) {
                out.println("kmodpack: " + message);
                out.flush();
            }

            @Override
            public void info(String message) {
                error(message);
            }
        };
    }

    /** The system log; messages are dropped where no log daemon listens. */
    public static ServerLog syslog() {
        LinuxCalls.SysLog c = LinuxCalls.syslog();
        byte[] name = LinuxCalls.cString("kmodpack");
        // openlog keeps the pointer: the ident must live as long as the process.
        synchronized (ServerLog.class) {
            if (ident == null) {
                ident = new Memory(name.length);
                ident.write(0, name, 0, name.length);
                c.openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
            }
        }
        return new ServerLog() {
            @Override
            public void error(String message) {
                c.syslog(LOG_ERR, "%s", message);
            }

            @Override
            public void info(String message) {
                c.syslog(LOG_INFO, "%s", message);
            }
        };
    }

    private static Memory ident;
    private static final int LOG_PID = 0x01;
    private static final int LOG_NDELAY = 0x08;
    private static final int LOG_DAEMON = 3 << 3;
    private static final int LOG_ERR = 3;
    private static final int LOG_INFO = 6;
}

package kmodpack.loader;

import kmodpack.depmod.ModuleFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/**
 * modprobe's behaviour over a module tree: insert (with -D/-n/-v printing), remove, and their
 * messages and exit status. Resolution is {@link Kmod}'s; the kernel is behind {@link Kernel}.
 */
public final class Modprobe {
    /** modprobe's switches. */
    public static final class Options {
        public boolean all, remove, removeHolders, firstTime, ignoreCommands, useBlacklist, force,
                forceModversion, forceVermagic, showDepends, dryRun, resolveAlias, quiet;
        public int verbose;
    }

    private final Kmod kmod;
    private final Kernel kernel;
    private final Log log;
    private final OutputStream out;
    private final Options opt;
    private final String where;
    private final boolean dryRun, ignoreLoaded, show;
    private final int logPriority;

    /**
     * @param where how a "not found" message names the module store, e.g. "image /boot/modules-6.1"
     */
    public Modprobe(Kmod kmod, Kernel kernel, Log log, OutputStream out, Options opt, String where) {
        // Lines are byte strings: written as ISO-8859-1 they come out exactly as read.
        this.kmod = kmod;
        this.kernel = kernel;
        this.log = log;
        this.out = out instanceof java.io.BufferedOutputStream ? out
                : new java.io.BufferedOutputStream(out, 1 << 16);
        this.opt = opt;
        this.where = where;
        this.dryRun = opt.dryRun || opt.showDepends;
        this.ignoreLoaded = opt.showDepends;
        int verbose = opt.quiet ? Log.EMERG : Log.WARNING + opt.verbose;
        log.setVerbose(verbose);
        this.show = opt.showDepends || verbose > Log.WARNING;
        // Without -a a missing module is FATAL and ends the run; with -a it is a warning.
        this.logPriority = opt.all ? Log.WARNING : Log.CRIT;
    }

    /** Runs modprobe on the non-option arguments; returns the exit status. */
    public int run(List<String> args) {
        try {
            if (args.isEmpty()) {
                log.error("missing parameters. See -h.");
                return 1;
            }
            int err;
            if (opt.remove) {
                err = 0;
                for (String a : opt.all ? args : args.subList(0, 1)) {
                    int r = rmmod(a);
                    if (r < 0) err = r;
                }
            } else if (opt.all) {
                err = 0;
                for (String a : args) {
                    int r = insmod(a, null);
                    if (r < 0) err = r;
                }
            } else {
                err = insmod(args.get(0), optionsFromArgs(args));
            }
            return err >= 0 ? 0 : 1;
        } catch (Log.Fatal f) {
            return 1;
        } finally {
            flush();
        }
    }

    private void print(String s) {
        try {
            out.write(s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** NAME PARAM=VALUE...: the parameters joined by spaces, values with spaces quoted. */
    static String optionsFromArgs(List<String> args) {
        if (args.size() < 2) return null;
        StringBuilder b = new StringBuilder();
        for (int i = 1; i < args.size(); i++) {
            String a = args.get(i);
            if (b.length() > 0) b.append(' ');
            int eq = a.indexOf('=');
            if (eq >= 0) {
                String value = a.substring(eq + 1);
                boolean quote = !value.startsWith("\"") && !value.startsWith("'") && value.indexOf(' ') >= 0;
                if (quote) {
                    b.append(a, 0, eq + 1).append('"').append(value).append('"');
                    continue;
                }
            }
            b.append(a);
        }
        return b.toString();
    }

    // --- insert ---------------------------------------------------------------------------------

    private int insmod(String alias, String extraOptions) {
        kmod.resetPool();
        List<Kmod.Module> list = kmod.lookup(alias);
        if (list == null || list.isEmpty()) {
            log.log(logPriority, "Module " + alias + " not found in " + where);
            return -Errno.ENOENT;
        }
        int err = 0;
        for (Kmod.Module mod : list) {
            if (opt.resolveAlias) {
                print(mod.name() + "\n");
            } else {
                err = probeInsert(mod, extraOptions);
            }
            if (err >= 0) {
                err = 0;
            } else {
                log.error("could not insert '" + mod.name() + "': " + Errno.insertError(-err));
            }
        }
        return err;
    }

    /**
     * Live or builtin, as libkmod decides. A module still coming is not skipped: the kernel
     * waits for it and answers EEXIST, which counts as success. A /sys/module directory without
     * initstate is usually a builtin of the running kernel that has parameters; loading over it
     * gets the kernel's own answer, as with modprobe.
     */
    private boolean inKernel(Kmod.Module m) {
        if (m.isBuiltin()) return true;
        return kernel.initState(m.name()) == Kernel.InitState.LIVE;
    }

    /** libkmod's kmod_module_probe_insert_module with modprobe's flags. */
    private int probeInsert(Kmod.Module mod, String extraOptions) {
        if (!ignoreLoaded && inKernel(mod)) return opt.firstTime ? -Errno.EEXIST : 0;
        // The blacklist applies to names reached through an alias, and to all with -b.
        if ((mod.alias() != null || opt.useBlacklist) && mod.isBlacklisted()) return 1;

        List<Kmod.Module> list = kmod.probeList(mod, opt.ignoreCommands);
        if (!dryRun && !readAhead(list)) return -Errno.EIO;
        int err = 0;
        for (Kmod.Module m : list) {
            if (!ignoreLoaded && inKernel(m)) {
                err = -Errno.EEXIST;
            } else {
                String options = Kmod.concatOptions(m.options(), m == mod ? extraOptions : null);
                String cmd = m.installCommands();
                if (cmd != null && !m.ignoreCommand()) {
                    if (show) print("install " + cmd + " " + (options == null ? "" : options) + "\n");
                    if (!dryRun) err = runInstall(m, cmd, options);
                } else {
                    if (show) printInsmod(m, options);
                    if (!dryRun) err = insertModule(m, options);
                }
            }
            if (err == -Errno.EEXIST && m == mod && opt.firstTime) break;
            if (err == -Errno.EEXIST || !m.required()) err = 0;
            else if (err < 0) break;
        }
        return err;
    }

    private void printInsmod(Kmod.Module m, String options) {
        String path = m.path();
        if (path == null) {
            if (m.isBuiltin()) print("builtin " + m.name() + "\n");
        } else {
            print("insmod " + path + " " + (options == null ? "" : options) + "\n");
        }
    }

    private int runInstall(Kmod.Module m, String command, String options) {
        String cmd = command.replace("$CMDLINE_OPTS", options == null ? "" : options);
        int rc = runShell(cmd, m.name());
        if (rc < 0) {
            log.error("Could not run install command '" + cmd + "' for module " + m.name());
            return -Errno.EINVAL;
        }
        if (rc != 0) {
            log.error("Error running install command '" + cmd + "' for module " + m.name() + ": retcode " + rc);
            return -Errno.EINVAL;
        }
        return 0;
    }

    /** Runs a configured command through /bin/sh with MODPROBE_MODULE set; its exit status or -1. */
    private int runShell(String cmd, String module) {
        flush();
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", cmd).inheritIO();
        Map<String, String> env = pb.environment();
        env.put("MODPROBE_MODULE", module);
        try {
            return pb.start().waitFor();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** Module files read ahead of the first load, by relative path; a failed read maps to its error. */
    private final Map<String, Object> readAhead = new java.util.HashMap<>();
    private static final Object ABSENT = new Object();

    /**
     * Reads every module file the load list will insert before the first one goes to the
     * kernel, so that a damaged image stops the whole closure rather than leave half of it
     * loaded. Returns false (after saying why) when a required module cannot be read; an
     * optional one (a soft dependency) fails later on its own, as modprobe ignores it. The files
     * are read on every core at once: decoding their blocks is most of a load's time.
     */
    private boolean readAhead(List<Kmod.Module> list) {
        List<Kmod.Module> todo = new java.util.ArrayList<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Kmod.Module m : list) {
            String rel = m.relPath();
            if (rel == null || m.path() == null || (!ignoreLoaded && inKernel(m))
                    || (m.installCommands() != null && !m.ignoreCommand()) || readAhead.containsKey(rel)
                    || !seen.add(rel)) {
                continue;
            }
            todo.add(m);
        }
        Object[] got = new Object[todo.size()];
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        Runnable reader = () -> {
            for (int i; (i = next.getAndIncrement()) < got.length; ) {
                try {
                    byte[] b = kmod.tree().read(todo.get(i).relPath());
                    got[i] = b == null ? ABSENT : b;
                } catch (IOException | RuntimeException | Error e) {
                    got[i] = e;
                }
            }
        };
        int helpers = Math.min(todo.size(), Runtime.getRuntime().availableProcessors()) - 1;
        List<Thread> threads = new java.util.ArrayList<>();
        for (int i = 0; i < helpers; i++) {
            Thread t = new Thread(reader, "read ahead");
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        reader.run();
        for (Thread t : threads) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                log.error("interrupted while reading modules; nothing was loaded");
                return false;
            }
        }
        for (int i = 0; i < got.length; i++) {
            Kmod.Module m = todo.get(i);
            readAhead.put(m.relPath(), got[i]);
            if (got[i] instanceof RuntimeException e) throw e;
            if (got[i] instanceof Error e) throw e;
            if (got[i] instanceof IOException e && m.required()) {
                log.error("could not read '" + m.path() + "': " + e.getMessage() + "; nothing was loaded");
                return false;
            }
        }
        return true;
    }

    /** Reads the module from the tree (verified), decompresses it if the kernel cannot, loads it. */
    private int insertModule(Kmod.Module m, String options) {
        String path = m.path();
        String rel = m.relPath();
        if (path == null || rel == null) {
            log.error("could not find module by name='" + m.name() + "'");
            return -Errno.ENOENT;
        }
        byte[] bytes;
        try {
            Object ahead = readAhead.remove(rel);
            if (ahead instanceof IOException e) throw e;
            bytes = ahead == ABSENT ? null : ahead != null ? (byte[]) ahead : kmod.tree().read(rel);
        } catch (IOException e) {
            log.error("could not read '" + path + "': " + e.getMessage());
            return -Errno.EIO;
        }
        if (bytes == null) {
            log.error("could not read '" + path + "': not in " + where);
            return -Errno.ENOENT;
        }
        int flags = 0;
        if (opt.force || opt.forceModversion) flags |= ModuleSyscalls.IGNORE_MODVERSIONS;
        if (opt.force || opt.forceVermagic) flags |= ModuleSyscalls.IGNORE_VERMAGIC;
        String kind = ModuleFiles.compression(bytes);
        if (kind != null) {
            if (kind.equals(kernel.compression())) {
                flags |= ModuleSyscalls.COMPRESSED_FILE;
            } else {
                try {
                    bytes = ModuleFiles.elf(bytes);
                } catch (IOException e) {
                    log.error("could not decompress '" + path + "': " + e.getMessage());
                    return -Errno.ENOEXEC;
                }
            }
        }
        int errno = kernel.syscalls().loadModule(bytes, options == null ? "" : options, flags);
        if (errno != 0) {
            log.info("Failed to insert module '" + path + "': " + Errno.strerror(errno));
            return -errno;
        }
        return 0;
    }

    // --- remove ---------------------------------------------------------------------------------

    private static final int RMMOD_REMOVE_HOLDERS = 1, RMMOD_IGNORE_BUILTIN = 2;

    private int rmmod(String alias) {
        kmod.resetPool();
        List<Kmod.Module> list = kmod.lookup(alias);
        if (list == null || list.isEmpty()) {
            log.log(logPriority, "Module " + alias + " not found.");
            return -Errno.ENOENT;
        }
        int err = 0;
        for (Kmod.Module mod : list) {
            err = rmmodModule(mod, opt.removeHolders ? RMMOD_REMOVE_HOLDERS : 0);
            if (err < 0) break;
        }
        return err;
    }

    private int rmmodList(List<Kmod.Module> list, boolean stopOnErrors) {
        for (int i = list.size() - 1; i >= 0; i--) {
            int r = rmmodModule(list.get(i), RMMOD_IGNORE_BUILTIN);
            if (r < 0 && stopOnErrors) return r;
        }
        return 0;
    }

    /**
     * Modules being removed right now. Soft dependencies can form a cycle, which sends modprobe
     * into endless recursion; here a module already on the way out is not entered again.
     */
    private final java.util.Set<String> removing = new java.util.HashSet<>();

    private int rmmodModule(Kmod.Module mod, int flags) {
        if (!removing.add(mod.name())) return 0;
        try {
            return rmmodModule0(mod, flags);
        } finally {
            removing.remove(mod.name());
        }
    }

    private int rmmodModule0(Kmod.Module mod, int flags) {
        String name = mod.name();
        List<Kmod.Module> pre = List.of(), post = List.of();
        String cmd = null;
        if (!opt.ignoreCommands) {
            List<List<Kmod.Module>> sd = kmod.softdeps(mod);
            pre = sd.get(0);
            post = sd.get(1);
            cmd = mod.removeCommands();
        }
        if (cmd == null && !ignoreLoaded) {
            if (mod.isBuiltin()) {
                if ((flags & RMMOD_IGNORE_BUILTIN) != 0) return 0;
                log.log(logPriority, "Module " + name + " is builtin.");
                return -Errno.ENOENT;
            }
            if (kernel.initState(name) == null) {
                if (opt.firstTime) {
                    log.log(logPriority, "Module " + name + " is not in kernel.");
                    return -Errno.ENOENT;
                }
                return 0;
            }
        }
        rmmodList(post, false);
        if ((flags & RMMOD_REMOVE_HOLDERS) != 0) {
            List<String> holders = kernel.holders(name);
            if (holders == null) {
                log.error("could not open '/sys/module/" + name + "/holders'");
            } else {
                List<Kmod.Module> hm = holders.stream().map(kmod::moduleFromName).toList();
                int e = rmmodList(hm, true);
                if (e < 0) return e;
            }
        }
        if (cmd == null && !ignoreLoaded) {
            int usage = kernel.refcnt(name);
            if (usage > 0) {
                log.log(logPriority, "Module " + name + " is in use.");
                return -Errno.EBUSY;
            }
        }
        int err = cmd == null ? removeModule(name) : runRemove(mod, cmd);
        if (err < 0) return err;
        if (cmd == null) {
            for (Kmod.Module dep : mod.dependencies()) {
                if (kernel.refcnt(dep.name()) == 0) removeModule(dep.name());
            }
        }
        rmmodList(pre, false);
        return err;
    }

    private int runRemove(Kmod.Module m, String command) {
        String cmd = command.replace("$CMDLINE_OPTS", "");
        if (show) print("remove " + cmd + "\n");
        if (dryRun) return 0;
        int rc = runShell(cmd, m.name());
        if (rc != 0) {
            log.log(logPriority, "Error running remove command for " + m.name());
            return rc < 0 ? -1 : -rc;
        }
        return 0;
    }

    private int removeModule(String name) {
        if (show) print("rmmod " + name + "\n");
        if (dryRun) return 0;
        int flags = ModuleSyscalls.O_NONBLOCK | (opt.force ? ModuleSyscalls.O_TRUNC : 0);
        int errno = kernel.syscalls().deleteModule(name, flags);
        if (errno == 0) return 0;
        log.error("could not remove '" + name + "': "
                + (errno == Errno.ENOSYS ? Errno.insertError(errno) : Errno.strerror(errno)));
        return -errno;
    }

    /** For callers that catch an index read failure deep inside resolution. */
    public static String describe(UncheckedIOException e) {
        return e.getCause().getMessage();
    }
}

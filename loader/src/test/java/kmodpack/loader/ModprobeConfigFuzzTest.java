package kmodpack.loader;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * Coverage-guided fuzzing of the modprobe.d parser (with fnmatch over the patterns it yields)
 * and the kernel command-line parser. Both take any bytes: bad lines are reported on stderr and
 * skipped, as libkmod does, so the invariant is that nothing is thrown at all.
 */
class ModprobeConfigFuzzTest {
    private static Log quietLog() {
        return new Log((prio, text) -> { });
    }

    @FuzzTest(maxDuration = "10s")
    void modprobeD(byte[] input) {
        ModprobeConfig cfg = ModprobeConfig.parse(new String(input, StandardCharsets.ISO_8859_1), quietLog());
        // Patterns from the file meet names from the file, as aliases and softdeps meet lookups.
        for (ModprobeConfig.Alias a : cfg.aliases) {
            Fnmatch.matches(a.pattern(), a.modname());
            for (ModprobeConfig.Softdep s : cfg.softdeps) Fnmatch.matches(s.modname(), a.pattern());
        }
        for (ModprobeConfig.Command c : cfg.installCommands) Fnmatch.matches(c.modname(), c.command());
        for (ModprobeConfig.Options o : cfg.options) Kmod.aliasNormalize(o.modname());
    }

    @FuzzTest(maxDuration = "10s")
    void kernelCommandLine(byte[] input) {
        ModprobeConfig cfg = ModprobeConfig.parse("", quietLog());
        cfg.parseKernelCmdline(input);
    }
}

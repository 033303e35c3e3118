package kmodpack.cli;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

import kmodpack.depmod.TreeDepmod;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "depmod", mixinStandardHelpOptions = true,
        description = {"Write modules.dep, modules.alias, modules.symbols and their .bin indexes (and modules.softdep,",
            "modules.devname, modules.builtin.bin, modules.builtin.alias.bin) for BASEDIR/lib/modules/VERSION,",
            "byte for byte as kmod's depmod -b BASEDIR VERSION writes them."})
final class DepmodCommand implements Callable<Integer> {
    @Parameters(paramLabel = "VERSION", description = "Kernel version: the directory name under lib/modules.")
    String version;

    @Option(names = {"-b", "--basedir"}, paramLabel = "BASEDIR", description = "Root the tree lives under (default: /).")
    Path basedir = Path.of("/");

    @Option(names = {"-n", "--show", "--dry-run"}, description = "Print the text files on standard output instead of writing any file, as depmod -n.")
    boolean show;

    @Option(names = {"-a", "--all"}, description = "Search all modules of the tree (always done; accepted for depmod's command line).")
    boolean all;

    @Override
    public Integer call() throws Exception {
        // depmod takes a version only when it starts like one ("%u.%u").
        if (!version.matches("\\s*\\+?\\d+\\.\\s*\\+?\\d+.*") || version.contains("/")) {
            throw new IllegalArgumentException("bad version passed: " + version);
        }
        Path dir = basedir.resolve("lib/modules").resolve(version);
        Map<String, byte[]> files = TreeDepmod.compute(dir, w -> System.err.println("kmodpack: warning: " + w));
        if (show) {
            System.out.write(kmodpack.depmod.Depmod.show(files));
            System.out.flush();
        } else {
            TreeDepmod.write(dir, files);
        }
        return 0;
    }
}

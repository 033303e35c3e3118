package kmodpack.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import kmodpack.fuse.Unmounter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "umount", mixinStandardHelpOptions = true,
        description = {"Unmount a kmodpack mount, a dead one (\"Transport endpoint is not connected\") included.",
            "A mount with files still open is detached: it leaves the mount table at once and its server exits "
                    + "when the last file is closed."})
final class UmountCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MOUNTPOINT")
    Path mountPoint;

    @Override
    public Integer call() throws Exception {
        String note = Unmounter.unmount(mountPoint);
        if (note != null) {
            System.err.println("kmodpack: " + note);
        }
        return 0;
    }
}

package kmodpack.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;

import kmodpack.image.ModuleImage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Check every checksum of an image: header, index and each block.",
            "Names the damaged files; exits 1 when anything is damaged."})
final class VerifyCommand implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE")
    Path image;

    @Override
    public Integer call() throws Exception {
        ModuleImage.VerifyResult r;
        try (ModuleImage img = ImageOptions.open(image)) {
            ProgressBar bar = new ProgressBar("verifying");
            try {
                r = img.verify(bar::update);
            } finally {
                bar.finish();
            }
            if (r.ok()) {
                System.out.println(image + ": ok (" + img.entryCount() + " entries, " + r.blocksChecked() + " blocks)");
                return 0;
            }
        }
        for (String b : r.damagedBlocks()) {
            System.err.println("kmodpack: " + image + ": " + b);
        }
        for (String f : r.damagedFiles()) {
            System.err.println("kmodpack: " + image + ": damaged file: " + f);
        }
        System.err.println("kmodpack: " + image + ": " + r.damagedBlocks().size() + " of " + r.blocksChecked()
                + " blocks damaged, " + r.damagedFiles().size() + " files affected");
        return 1;
    }
}

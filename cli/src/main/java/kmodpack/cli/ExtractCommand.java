package kmodpack.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import kmodpack.image.ModuleImage;
import kmodpack.packer.Extractor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "extract", mixinStandardHelpOptions = true,
        description = {"Write an image's tree (or the named paths) into DIR, with modes, owners (as root), mtimes and links.",
            "DIR is created when missing (an existing DIR keeps its own mode, owner and mtime); an entry that already exists there is an error, never overwritten."})
final class ExtractCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE")
    Path image;

    @Parameters(index = "1", paramLabel = "DIR")
    Path dir;

    @Parameters(index = "2..*", arity = "0..*", paramLabel = "PATH", description = "Only these paths (directories with their contents).")
    List<String> paths = List.of();

    @Override
    public Integer call() throws Exception {
        try (ModuleImage img = ImageOptions.open(image)) {
            ProgressBar bar = new ProgressBar("extracting");
            try {
                Extractor.extract(img, dir, paths, bar::update);
            } finally {
                bar.finish();
            }
        }
        return 0;
    }
}

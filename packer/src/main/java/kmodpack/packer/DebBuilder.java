package kmodpack.packer;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.Pattern;

import kmodpack.image.ImageException;
import kmodpack.image.ImageWriter;

/**
 * {@code build --deb}: a Debian kernel package in, {@code OUTROOT/boot/modules-VERSION} and the
 * kernel's own files beside it ({@code vmlinuz-}, {@code config-}, {@code System.map-}) out.
 * The kernel files are copied to temporary names while the package is first read and renamed
 * into place only once the image is: a failed build leaves no new file behind.
 */
public final class DebBuilder {
    private DebBuilder() {
    }

    /** The boot/ files worth copying: the kernel and what describes it. */
    private static final Pattern BOOT_FILE = Pattern.compile("(vmlinuz|vmlinux|config|System\\.map)-.+");
    /** A hostile package could hold thousands; a kernel package holds three or four. */
    private static final int MAX_BOOT_FILES = 16;

    public record Result(String version, Path image, List<Path> bootFiles, ImageWriter.Summary summary) {
    }

    /**
     * @param image where the image goes, or null for OUTROOT/boot/modules-VERSION
     */
    public static Result build(Path deb, Path outRoot, Path image, ImageWriter.Options options,
                               ImageWriter.Progress progress, Consumer<String> warnings) throws IOException {
        if (!Files.isRegularFile(deb)) {
            throw new ImageException(deb + ": no such package file");
        }
        Path boot = outRoot.resolve("boot");
        boolean madeBoot = !Files.isDirectory(boot);
        Files.createDirectories(boot);
        Map<String, Path> temps = new LinkedHashMap<>();
        String tag = ".tmp-" + ProcessHandle.current().pid();
        Thread cleanup = new Thread(() -> temps.values().forEach(DebBuilder::deleteQuietly));
        Runtime.getRuntime().addShutdownHook(cleanup);
        boolean done = false;
        try {
            DebSource source = DebSource.scan(deb, (name, entry, content) -> {
                if (!BOOT_FILE.matcher(name).matches() || temps.containsKey(name)) {
                    return;
                }
                if (temps.size() >= MAX_BOOT_FILES) {
                    throw new ImageException(deb + ": more than " + MAX_BOOT_FILES + " kernel files in boot/");
                }
                Path tmp = boot.resolve("." + name + tag);
                temps.put(name, tmp);
                copy(content, tmp, deb, entry.getSize(), entry.getMode());
                FileTimes.setMtime(tmp, entry.getLastModifiedTime().toInstant().getEpochSecond(),
                        entry.getLastModifiedTime().toInstant().getNano());
            }, warnings);
            String version = source.version();
            Path out = image != null ? image : boot.resolve("modules-" + version);
            ImageWriter.Summary summary;
            try (DebSource.Replay replay = source.replay()) {
                summary = ImageBuilder.build(source.tree(replay), version, out, options, progress);
            }
            List<Path> placed = new ArrayList<>();
            for (Map.Entry<String, Path> t : temps.entrySet()) {
                if (t.getKey().endsWith("-" + version)) {
                    Path target = boot.resolve(t.getKey());
                    try {
                        Files.move(t.getValue(), target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    } catch (AtomicMoveNotSupportedException e) {
                        throw new ImageException("cannot rename " + target + " into place");
                    }
                    placed.add(target);
                }
            }
            done = true;
            return new Result(version, out, placed, summary);
        } finally {
            temps.values().forEach(DebBuilder::deleteQuietly);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook runs anyway
            }
            if (!done && madeBoot) {
                try {
                    Files.deleteIfExists(boot); // only when empty: ours, made for this build
                } catch (IOException notEmpty) {
                    // something else is there now; leave it
                }
            }
        }
    }

    private static void copy(InputStream content, Path tmp, Path deb, long size, int mode) throws IOException {
        long n;
        try (var out = Files.newOutputStream(tmp, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            n = content.transferTo(out);
        }
        if (n != size) {
            throw new ImageException(deb + ": data.tar ends in the middle of boot/" + tmp.getFileName());
        }
        java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = java.util.EnumSet.noneOf(java.nio.file.attribute.PosixFilePermission.class);
        java.nio.file.attribute.PosixFilePermission[] bits = java.nio.file.attribute.PosixFilePermission.values(); // OWNER_READ .. OTHERS_EXECUTE
        for (int i = 0; i < 9; i++) {
            if ((mode & (0400 >> i)) != 0) {
                perms.add(bits[i]);
            }
        }
        Files.setPosixFilePermissions(tmp, perms);
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // nothing more can be done
        }
    }
}

package kmodpack.image;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import kmodpack.image.elf.ElfStreams;

/**
 * Size of a module tree's data packed with the ELF streams transform against whole files in
 * name order, both cut into independent blocks compressed like the packer's xz codec (preset 6
 * with its match finder limits, liblzma when present). Run by scripts/bench-elf-streams.
 *
 *   ElfStreamsBench TREE [BLOCK_SIZE]
 *
 * Prints, per stream, raw and packed bytes, and the blocks a reader decodes for the module of
 * median size and for kernel/fs/ext4/ext4.ko. Every module is checked to join back to its bytes.
 */
public final class ElfStreamsBench {
    private static final String EXT4 = "kernel/fs/ext4/ext4.ko";

    /** A stream being built: its bytes and where each file's extent starts. */
    private static final class Stream_ {
        final String name;
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream(1 << 24);
        long packed;

        Stream_(String name) {
            this.name = name;
        }
    }

    public static void main(String[] args) throws Exception {
        Path tree = Path.of(args[0]);
        int block = args.length > 1 ? Integer.parseInt(args[1]) : 1 << 20;
        List<Path> files;
        try (Stream<Path> s = Files.walk(tree)) {
            files = s.filter(Files::isRegularFile).sorted(Comparator.comparing(p -> tree.relativize(p).toString()))
                    .collect(Collectors.toList());
        }
        // layout A: whole files in name order; layout B: .ko split into streams, the rest in name order
        Stream_ whole = new Stream_("whole files");
        List<Stream_> streams = new ArrayList<>();
        for (String n : ElfStreams.STREAM_NAMES) {
            streams.add(new Stream_(n));
        }
        Stream_ plain = new Stream_("non-ELF files");
        streams.add(plain);
        List<String> names = new ArrayList<>();
        List<long[][]> extents = new ArrayList<>();   // per .ko: {start, length} per stream
        List<long[]> wholeExtents = new ArrayList<>();
        int modules = 0;
        int refused = 0;
        for (Path p : files) {
            byte[] data = Files.readAllBytes(p);
            String rel = tree.relativize(p).toString();
            wholeExtents.add(new long[] {whole.bytes.size(), data.length});
            whole.bytes.write(data);
            byte[][] parts = rel.endsWith(".ko") ? ElfStreams.split(data) : null;
            if (rel.endsWith(".ko")) {
                modules++;
            }
            long[][] ext = new long[streams.size()][];
            if (parts == null) {
                refused += rel.endsWith(".ko") ? 1 : 0;
                ext[streams.size() - 1] = new long[] {plain.bytes.size(), data.length};
                plain.bytes.write(data);
            } else {
                if (!java.util.Arrays.equals(data, ElfStreams.join(parts))) {
                    throw new IllegalStateException(rel + " does not join back");
                }
                for (int i = 0; i < parts.length; i++) {
                    ext[i] = new long[] {streams.get(i).bytes.size(), parts[i].length};
                    streams.get(i).bytes.write(parts[i]);
                }
            }
            names.add(rel);
            extents.add(ext);
        }
        String dump = System.getProperty("kmodpack.dumpStreams");
        if (dump != null) {
            // each stream's raw bytes to DIR/NAME, for trying other encoder settings on them
            Files.createDirectories(Path.of(dump));
            for (Stream_ st : streams) {
                Files.write(Path.of(dump, st.name.replace(' ', '-')), st.bytes.toByteArray());
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors());
        try {
            pack(whole, block, pool);
            for (Stream_ s : streams) {
                pack(s, block, pool);
            }
        } finally {
            pool.shutdown();
        }
        System.out.printf("tree: %s, %d files, %d modules (%d not split), block %d KiB, liblzma %s%n",
                tree, files.size(), modules, refused, block >> 10, Codec.nativeXzEncoder() ? "yes" : "no (Java encoder)");
        System.out.printf("%-16s %12s %12s%n", "stream", "raw bytes", "packed");
        long total = 0;
        for (Stream_ s : streams) {
            System.out.printf("%-16s %12d %12d%n", s.name, s.bytes.size(), s.packed);
            total += s.packed;
        }
        System.out.printf("%-16s %12s %12d%n", "streams total", "", total);
        System.out.printf("%-16s %12d %12d%n", whole.name, whole.bytes.size(), whole.packed);

        // the module of median size, and ext4.ko: blocks a cold read decodes in each layout
        List<Integer> ko = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            if (names.get(i).endsWith(".ko")) {
                ko.add(i);
            }
        }
        ko.sort(Comparator.comparingLong(i -> wholeExtents.get(i)[1]));
        int median = ko.get(ko.size() / 2);
        int ext4 = names.indexOf(EXT4);
        for (int i : ext4 < 0 ? new int[] {median} : new int[] {median, ext4}) {
            int split = 0;
            for (long[] e : extents.get(i)) {
                split += blocks(e, block);
            }
            System.out.printf("blocks to read %s (%d bytes): %d split, %d whole%n", names.get(i),
                    wholeExtents.get(i)[1], split, blocks(wholeExtents.get(i), block));
        }
        System.out.printf("RESULT streams=%d whole=%d%n", total, whole.packed);
    }

    private static int blocks(long[] extent, int block) {
        if (extent == null || extent[1] == 0) {
            return 0;
        }
        return (int) ((extent[0] + extent[1] - 1) / block - extent[0] / block + 1);
    }

    private static void pack(Stream_ s, int block, ExecutorService pool) throws Exception {
        byte[] all = s.bytes.toByteArray();
        List<Future<Integer>> sizes = new ArrayList<>();
        for (int at = 0; at < all.length; at += block) {
            int from = at;
            int len = Math.min(block, all.length - at);
            sizes.add(pool.submit(() -> {
                byte[] src = java.util.Arrays.copyOfRange(all, from, from + len);
                byte[] packed = Codec.XZ.compress(src, len, 6, block);
                return packed == null ? len : packed.length;
            }));
        }
        for (Future<Integer> f : sizes) {
            s.packed += f.get();
        }
    }

    private ElfStreamsBench() {
    }

}

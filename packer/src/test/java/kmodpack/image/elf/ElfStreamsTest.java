package kmodpack.image.elf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import kmodpack.image.ImageException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Hostile and unusual inputs: mutated, truncated and garbage files either split faithfully or
 * are refused, and damaged parts are refused by join with an ImageException.
 */
class ElfStreamsTest {
    private static final List<String> SAMPLES = List.of(
            "kernel/fs/ext4/ext4.ko", "kernel/fs/fat/fat.ko", "kernel/lib/crc7.ko", "kernel/fs/fuse/fuse.ko");
    private static byte[][] samples;

    @BeforeAll
    static void load() throws IOException {
        samples = new byte[SAMPLES.size() * 2][];
        int k = 0;
        for (String arch : new String[] {"amd64", "arm64"}) {
            Path dir = kmodpack.testkit.KernelTrees.get(arch).modulesDir();
            for (String s : SAMPLES) {
                samples[k++] = Files.readAllBytes(dir.resolve(s));
            }
        }
    }

    /** split then join: either null, or the same bytes with consistent lengths. */
    private static boolean roundTrips(byte[] file) throws ImageException {
        byte[][] parts = ElfStreams.split(file);
        if (parts == null) {
            return false;
        }
        long[] lengths = ElfStreams.partLengths(parts[0]);
        assertEquals(parts[0].length, ElfStreams.headerLength(parts[0]));
        for (int i = 0; i < parts.length; i++) {
            assertEquals(lengths[i], parts[i].length);
        }
        assertArrayEquals(file, ElfStreams.join(parts));
        return true;
    }

    @Test
    void garbageIsRefusedOrRoundTrips() throws ImageException {
        Random rnd = new Random(1);
        for (int n = 0; n < 2000; n++) {
            byte[] junk = new byte[rnd.nextInt(300)];
            rnd.nextBytes(junk);
            if (junk.length >= 4 && rnd.nextBoolean()) {
                junk[0] = 0x7f;
                junk[1] = 'E';
                junk[2] = 'L';
                junk[3] = 'F';
            }
            roundTrips(junk);
        }
        assertNull(ElfStreams.split(new byte[0]));
        assertNull(ElfStreams.split("#!/bin/sh\n".getBytes()));
        assertThrows(NullPointerException.class, () -> ElfStreams.split(null));
    }

    @Test
    void truncatedModulesAreRefusedOrRoundTrip() throws ImageException {
        Random rnd = new Random(2);
        for (byte[] module : samples) {
            for (int n = 0; n < 60; n++) {
                int len = n < 20 ? n * 8 : rnd.nextInt(module.length);
                roundTrips(Arrays.copyOf(module, len));
            }
            // a module cut before its section header table is not an ELF shape we handle
            assertNull(ElfStreams.split(Arrays.copyOf(module, module.length / 2)));
        }
    }

    @Test
    void mutatedModulesRoundTrip() throws ImageException {
        Random rnd = new Random(3);
        int split = 0;
        for (byte[] module : samples) {
            int shoff = (int) ElfHeader.get64(module, 40, false);
            for (int n = 0; n < 150; n++) {
                byte[] m = module.clone();
                int flips = 1 + rnd.nextInt(8);
                for (int f = 0; f < flips; f++) {
                    // aim most mutations at the headers, where they change the plan
                    int at = switch (rnd.nextInt(3)) {
                        case 0 -> rnd.nextInt(64);
                        case 1 -> shoff + rnd.nextInt(module.length - shoff);
                        default -> rnd.nextInt(m.length);
                    };
                    m[at] = (byte) (rnd.nextInt(4) == 0 ? rnd.nextInt(256) : m[at] ^ (1 << rnd.nextInt(8)));
                }
                if (roundTrips(m)) {
                    split++;
                }
            }
        }
        assertTrue(split > 100, "many mutated modules still split: " + split);
    }

    @Test
    void overlappingAndOddSectionsStayInOther() throws ImageException {
        byte[] m = samples[2].clone();   // crc7.ko, amd64
        int shoff = (int) ElfHeader.get64(m, 40, false);
        int shnum = ElfHeader.get16(m, 60, false);
        // point every section at the same bytes: only the first of them may leave "other"
        long off = ElfHeader.get64(m, shoff + 64 + 24, false);
        for (int i = 1; i < shnum; i++) {
            ElfHeader.put(m, shoff + i * 64 + 24, off, 8, false);
        }
        ElfHeader.put(m, 62, 0, 2, false);      // no section names: e_shstrndx 0 is not handled
        assertNull(ElfStreams.split(m));
        ElfHeader.put(m, 62, ElfHeader.get16(samples[2], 62, false), 2, false);
        assertTrue(roundTrips(m));
        // a relocation table whose size is not a whole number of entries
        byte[] r = samples[2].clone();
        for (int i = 1; i < shnum; i++) {
            if (ElfHeader.get32(r, shoff + i * 64 + 4, false) == 4) {
                ElfHeader.put(r, shoff + i * 64 + 32, ElfHeader.get64(r, shoff + i * 64 + 32, false) - 1, 8, false);
            }
        }
        assertTrue(roundTrips(r));
    }

    @Test
    void bigEndianAnd32BitShapesRoundTrip() throws ImageException {
        // an ELF64 LE module byte-swapped field by field is a valid ELF64 BE object; 32-bit objects
        // are built from scratch
        for (int v = 0; v < 4; v++) {
            byte[] f = TinyElf.build(v >= 2, v % 2 == 1);
            byte[][] parts = ElfStreams.split(f);
            assertNotNull(parts);
            assertTrue(parts[ElfStreams.RELA].length > 0 && parts[ElfStreams.CODE].length > 0
                    && parts[ElfStreams.SYMTAB].length > 0 && parts[ElfStreams.BTF].length > 0);
            assertTrue(roundTrips(f));
        }
    }

    @Test
    void joinRefusesInconsistentParts() throws ImageException {
        byte[] module = samples[0];
        byte[][] parts = ElfStreams.split(module);
        assertThrows(ImageException.class, () -> ElfStreams.join(Arrays.copyOf(parts, 5)));
        for (int i = 0; i < parts.length; i++) {
            byte[][] p = parts.clone();
            p[i] = Arrays.copyOf(parts[i], parts[i].length + 1);
            assertThrows(ImageException.class, () -> ElfStreams.join(p), "part " + i + " one byte too long");
            byte[][] q = parts.clone();
            q[i] = null;
            assertThrows(ImageException.class, () -> ElfStreams.join(q));
        }
        assertThrows(ImageException.class, () -> ElfStreams.headerLength(new byte[3]));
        assertThrows(ImageException.class, () -> ElfStreams.headerLength(new byte[] {-1, -1, -1, -1}));
        // random damage to part 0: refused, or a file of the announced shape (a smaller module
        // than ext4.ko, so that thousands of joins stay quick)
        byte[][] small = ElfStreams.split(samples[1]);
        Random rnd = new Random(4);
        for (int n = 0; n < 3000; n++) {
            byte[][] p = small.clone();
            p[0] = small[0].clone();
            int at = rnd.nextInt(Math.min(p[0].length, 16 + 64 + 64 * 8));
            if (at >= 11 && at < 16) {
                continue;   // a file length of gigabytes would only test the heap
            }
            p[0][at] ^= (byte) (1 << rnd.nextInt(8));
            try {
                long[] lengths = ElfStreams.partLengths(p[0]);
                for (int i = 1; i < p.length; i++) {
                    if (lengths[i] != p[i].length) {
                        p[i] = new byte[(int) lengths[i]];
                    }
                }
                assertEquals(ElfLayout.getLE64(p[0], 8), ElfStreams.join(p).length);
            } catch (ImageException e) {
                assertTrue(e.getMessage().startsWith("ELF streams: "), e.getMessage());
            }
        }
    }
}

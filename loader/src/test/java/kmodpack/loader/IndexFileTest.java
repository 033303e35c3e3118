package kmodpack.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The trie reader against the text files depmod writes beside each index. */
class IndexFileTest {
    private static IndexFile open(Path dir, String name) throws IOException {
        return new IndexFile(Files.readAllBytes(dir.resolve(name)), name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"amd64", "arm64"})
    void everyModulesDepLineIsFoundByItsName(String arch) throws Exception {
        Path dir = TestTrees.tree(arch).moduleDir();
        IndexFile dep = open(dir, "modules.dep.bin");
        List<String> lines = Files.readAllLines(dir.resolve("modules.dep"), StandardCharsets.ISO_8859_1);
        for (String line : lines) {
            String path = line.substring(0, line.indexOf(':'));
            String name = Kmod.modnameNormalize(path.substring(path.lastIndexOf('/') + 1));
            assertEquals(line, dep.search(name), name);
        }
        assertNull(dep.search("no_such_module"));
        assertNull(dep.search(""));
        assertTrue(lines.size() > 3000);
    }

    @ParameterizedTest
    @ValueSource(strings = {"amd64", "arm64"})
    void everySymbolAndBuiltinIsFound(String arch) throws Exception {
        Path dir = TestTrees.tree(arch).moduleDir();
        IndexFile sym = open(dir, "modules.symbols.bin");
        for (String line : Files.readAllLines(dir.resolve("modules.symbols"), StandardCharsets.ISO_8859_1)) {
            String[] f = line.split(" ");
            if (f.length < 3 || !f[0].equals("alias")) continue;
            assertTrue(sym.searchWild(f[1]).stream().anyMatch(v -> v.value().equals(f[2])), f[1]);
        }
        IndexFile builtin = open(dir, "modules.builtin.bin");
        for (String line : Files.readAllLines(dir.resolve("modules.builtin"), StandardCharsets.ISO_8859_1)) {
            String name = Kmod.modnameNormalize(line.substring(line.lastIndexOf('/') + 1));
            assertEquals("", builtin.search(name), name);
        }
    }

    @Test
    void aliasPatternsMatchTheirOwnModule() throws Exception {
        Path dir = TestTrees.tree("amd64").moduleDir();
        IndexFile alias = open(dir, "modules.alias.bin");
        // Keys are stored normalized: lookups normalize dashes first.
        List<IndexFile.Value> v = alias.searchWild("fs_ext4");
        assertEquals(List.of("ext4"), v.stream().map(IndexFile.Value::value).toList());
        // Several modules for one alias come in modules.order priority.
        List<String> crc = alias.searchWild("crypto_crc32c").stream().map(IndexFile.Value::value).toList();
        assertEquals(List.of("crc32c_intel", "crc32c_generic"), crc);
        assertTrue(alias.searchWild("pci:v00008086d00001502sv00001028sd00000000bc02sc00i00").stream()
                .anyMatch(x -> x.value().equals("e1000e")));
        assertTrue(alias.searchWild("nothing-like-this").isEmpty());
    }

    @Test
    void anEmptyTrieFindsNothing() throws Exception {
        // What depmod writes for a tree without aliases: the header, and the root node at the
        // end of the file with no flags.
        byte[] empty = {(byte) 0xb0, 0x07, (byte) 0xf4, 0x57, 0, 2, 0, 1, 0, 0, 0, 12};
        IndexFile idx = new IndexFile(empty, "modules.alias.bin");
        assertNull(idx.search("ext4"));
        assertNull(idx.search(""));
        assertTrue(idx.searchWild("pci:v00008086d00001502sv00001028sd00000000bc02sc00i00").isEmpty());
        assertTrue(idx.searchWild("").isEmpty());
        // A root beyond the end is still damage, and so is a root at the end that claims content.
        byte[] past = empty.clone();
        past[11] = 13;
        assertThrows(IndexFile.IndexCorrupt.class, () -> new IndexFile(past, "x").search("ext4"));
        byte[] claims = empty.clone();
        claims[8] = (byte) 0x80;
        assertThrows(IndexFile.IndexCorrupt.class, () -> new IndexFile(claims, "x").search("ext4"));
    }

    @Test
    void damagedIndexesAreRejected() throws Exception {
        assertThrows(IOException.class, () -> new IndexFile(new byte[4], "x"));
        byte[] badMagic = {0, 0, 0, 1, 0, 2, 0, 1, 0, 0, 0, 12};
        assertThrows(IOException.class, () -> new IndexFile(badMagic, "x"));
        // Right header, root offset far outside the file.
        byte[] badRoot = {(byte) 0xb0, 0x07, (byte) 0xf4, 0x57, 0, 2, 0, 1, (byte) 0x80, 0, 0x10, 0};
        IndexFile idx = new IndexFile(badRoot, "x");
        assertThrows(IndexFile.IndexCorrupt.class, () -> idx.search("ext4"));
    }

    @Test
    void aCyclicTrieIsReportedAsDamagedNotAStackOverflow() throws Exception {
        // Root at 12: children '*'..'*', whose one child offset points back at the root itself.
        int root = 0x20000000 | 12;
        byte[] cyclic = {(byte) 0xb0, 0x07, (byte) 0xf4, 0x57, 0, 2, 0, 1, 0x20, 0, 0, 12,
            '*', '*', 0x20, 0, 0, 12};
        assertEquals(root, java.nio.ByteBuffer.wrap(cyclic, 8, 4).getInt());
        IndexFile idx = new IndexFile(cyclic, "modules.alias.bin");
        IndexFile.IndexCorrupt e = assertThrows(IndexFile.IndexCorrupt.class, () -> idx.searchWild("pci:v1"));
        assertTrue(e.getMessage().contains("modules.alias.bin: damaged index"), e.getMessage());
    }
}

package kmodpack.depmod;

import java.nio.charset.StandardCharsets;

/**
 * The bucket of a key in kmod's hash table (shared/hash.c: Paul Hsieh's "superfast" hash,
 * little-endian reads as on the x86 and arm machines depmod runs on). depmod writes
 * modules.symbols in the table's iteration order — buckets in turn, keys sorted within a bucket —
 * and lists modules missing from modules.order in the order of its module-name table, so
 * identical output needs the same buckets.
 */
final class KmodHash {
    private KmodHash() {
    }

    static int bucket(String key, int buckets) {
        return superfast(key.getBytes(StandardCharsets.ISO_8859_1)) & (buckets - 1);
    }

    static int superfast(byte[] key) {
        int len = key.length;
        int hash = len;
        int rem = len & 3;
        int p = 0;
        for (int n = len / 4; n > 0; n--) {
            hash += u16(key, p);
            int tmp = (u16(key, p + 2) << 11) ^ hash;
            hash = (hash << 16) ^ tmp;
            p += 4;
            hash += hash >>> 11;
        }
        switch (rem) {
            case 3 -> {
                hash += u16(key, p);
                hash ^= hash << 16;
                hash ^= key[p + 2] << 18; // char is signed there
                hash += hash >>> 11;
            }
            case 2 -> {
                hash += u16(key, p);
                hash ^= hash << 11;
                hash += hash >>> 17;
            }
            case 1 -> {
                hash += key[p];
                hash ^= hash << 10;
                hash += hash >>> 1;
            }
            default -> {
            }
        }
        hash ^= hash << 3;
        hash += hash >>> 5;
        hash ^= hash << 4;
        hash += hash >>> 17;
        hash ^= hash << 25;
        hash += hash >>> 6;
        return hash;
    }

    private static int u16(byte[] b, int p) {
        return (b[p] & 0xff) | ((b[p + 1] & 0xff) << 8);
    }
}

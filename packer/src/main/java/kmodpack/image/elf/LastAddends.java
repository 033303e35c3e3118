package kmodpack.image.elf;

/** The latest addend seen for each symbol of one relocation table: an open-addressing map of longs. */
final class LastAddends {
    private long[] keys = new long[64];
    private long[] values = new long[64];
    private boolean[] used = new boolean[64];
    private int size;

    /** The addend last stored for {@code symbol}, or 0 when there is none. */
    long get(long symbol) {
        int i = slot(symbol);
        return used[i] ? values[i] : 0;
    }

    void put(long symbol, long addend) {
        int i = slot(symbol);
        if (!used[i]) {
            if (2 * (size + 1) > keys.length) {
                grow();
                i = slot(symbol);
            }
            used[i] = true;
            keys[i] = symbol;
            size++;
        }
        values[i] = addend;
    }

    private int slot(long key) {
        int mask = keys.length - 1;
        int i = (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask;
        while (used[i] && keys[i] != key) {
            i = (i + 1) & mask;
        }
        return i;
    }

    private void grow() {
        long[] k = keys;
        long[] v = values;
        boolean[] u = used;
        keys = new long[k.length * 2];
        values = new long[k.length * 2];
        used = new boolean[k.length * 2];
        for (int j = 0; j < k.length; j++) {
            if (u[j]) {
                int i = slot(k[j]);
                used[i] = true;
                keys[i] = k[j];
                values[i] = v[j];
            }
        }
    }

    @Override
    public String toString() {
        return "LastAddends[" + size + " symbols]";
    }
}

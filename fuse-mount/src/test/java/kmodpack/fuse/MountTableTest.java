package kmodpack.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

class MountTableTest {
    @Test
    void parsesMountinfoWithOptionalFieldsAndEscapes() {
        String info = "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
                + "42 27 0:39 / /tmp/a\\040b/m\\303\\274 ro,nosuid,nodev,relatime shared:7 master:1 - fuse.kmodpack /boot/modules\\040x ro,user_id=0\n"
                + "garbage line\n";
        List<MountTable.Mount> m = MountTable.parse(info.getBytes(StandardCharsets.ISO_8859_1));
        assertEquals(2, m.size());
        assertEquals("/proc", m.get(0).mountPoint());
        assertFalse(m.get(0).isFuse());
        MountTable.Mount k = m.get(1);
        assertEquals("/tmp/a b/mü", k.mountPoint());
        assertEquals("/boot/modules x", k.source());
        assertTrue(k.isKmodpack() && k.isFuse());
        assertEquals("ro,nosuid,nodev,relatime", k.options());
    }

    @Test
    void readsThisProcessTable() throws Exception {
        assertTrue(MountTable.read().stream().anyMatch(x -> x.mountPoint().equals("/")));
    }
}

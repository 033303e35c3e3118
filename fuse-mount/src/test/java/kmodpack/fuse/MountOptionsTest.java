package kmodpack.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;

class MountOptionsTest {
    @Test
    void splitsAtUnescapedCommasAcrossRepeatedOptions() {
        assertEquals(List.of("allow_other", "fsname=a\\,b", "max_read=4096"),
                MountOptions.split(List.of("allow_other,,fsname=a\\,b", "max_read=4096")));
        assertEquals(List.of(), MountOptions.split(null));
    }

    @Test
    void defaultsComeFirstReadOnlyLast() throws Exception {
        String o = MountOptions.forLibfuse(List.of("allow_other", "attr_timeout=5", "ro"), Path.of("/boot/modules-6.1,x"));
        List<String> parts = MountOptions.split(List.of(o));
        assertEquals("ro", parts.get(parts.size() - 1));
        assertEquals(1, parts.stream().filter("ro"::equals).count());
        assertTrue(parts.indexOf("attr_timeout=" + MountOptions.TIMEOUT) < parts.indexOf("attr_timeout=5"), o);
        assertTrue(parts.contains("subtype=kmodpack") && parts.contains("kernel_cache") && parts.contains("use_ino"), o);
        assertTrue(o.contains("fsname=/boot/modules-6.1\\,x"), "a comma in the image's name is escaped: " + o);
    }

    @Test
    void refusesOptionsThatContradictAReadOnlyMmappableMount() {
        assertTrue(assertThrows(MountException.class, () -> MountOptions.forLibfuse(List.of("rw"), Path.of("/i"))).getMessage().contains("read-only"));
        assertTrue(assertThrows(MountException.class, () -> MountOptions.forLibfuse(List.of("direct_io"), Path.of("/i"))).getMessage().contains("mmap"));
        assertTrue(assertThrows(MountException.class, () -> MountOptions.forLibfuse(List.of("subtype=x"), Path.of("/i"))).getMessage().contains("kmodpack"));
    }

    @Test
    void libfuseMessagesBecomeOneLine() {
        assertEquals("mountpoint is not empty; if you are sure this is safe, use the 'nonempty' mount option",
                FuseServer.libfuseMessage("fuse: mountpoint is not empty\nfuse: if you are sure this is safe, use the 'nonempty' mount option\n", "x"));
        assertEquals("fallback", FuseServer.libfuseMessage("\n \n", "fallback"));
    }
}

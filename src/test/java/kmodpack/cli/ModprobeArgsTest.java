package kmodpack.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ModprobeArgsTest {
    @Test
    void getoptRules() throws Exception {
        ModprobeArgs a = ModprobeArgs.parse(List.of("-aDv", "ext4", "-Cone", "--config", "two", "--config=three",
                "-d", "/r", "--set-ver=6.1", "-vq", "fuse", "--", "-x", "--image=/i"));
        assertTrue(a.options.all && a.options.showDepends && a.options.quiet);
        assertEquals(2, a.options.verbose);
        assertEquals(List.of("one", "two", "three"), a.source.configPaths);
        assertEquals("/r", a.source.root);
        assertEquals("6.1", a.source.version);
        assertEquals(null, a.source.image);
        assertEquals(List.of("ext4", "fuse", "-x", "--image=/i"), a.args);
    }

    @Test
    void mistakes() {
        assertThrows(ModprobeArgs.UsageException.class, () -> ModprobeArgs.parse(List.of("-Z")));
        assertThrows(ModprobeArgs.UsageException.class, () -> ModprobeArgs.parse(List.of("--bogus")));
        assertThrows(ModprobeArgs.UsageException.class, () -> ModprobeArgs.parse(List.of("-C")));
        assertThrows(ModprobeArgs.UsageException.class, () -> ModprobeArgs.parse(List.of("--force-")));
        assertThrows(ModprobeArgs.UsageException.class, () -> ModprobeArgs.parse(List.of("--all=1")));
    }

    @Test
    void everyDocumentedOptionParsesAndAppearsInUsage() throws Exception {
        List<ModprobeArgs.OptionHelp> documented = ModprobeArgs.documentedOptions();
        assertTrue(documented.size() >= 20);
        for (ModprobeArgs.OptionHelp o : documented) {
            for (String name : o.names()) {
                List<String> argv = o.label() == null ? List.of(name) : List.of(name, "x");
                ModprobeArgs.parse(argv);
                assertTrue(ModprobeArgs.USAGE.contains(name + (o.label() == null || name.length() == 2 ? "" : "=" + o.label())), name);
            }
        }
        assertTrue(documented.stream().noneMatch(o -> o.names().contains("--host-root")));
    }
}

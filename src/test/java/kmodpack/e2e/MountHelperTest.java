package kmodpack.e2e;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

import kmodpack.testkit.KernelTrees;
import kmodpack.testkit.TreeAssert;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * mount(8) and fstab through the mount.fuse.kmodpack helper, default mount point, names in
 * UTF-8, and a user without the right to mount. Runs in private mount namespaces where it must
 * change system directories, so the machine's own mounts and /sbin stay untouched.
 */
class MountHelperTest {
    /** World-readable: the unprivileged user must reach the jar and the image. */
    static Path dir;
    static Path src;
    static Path image;
    static Path jar;
    static final String VER = "6.1.0-hélper";

    @BeforeAll
    static void buildImage() throws Exception {
        MountSupport.assumeFuse();
        dir = Files.createTempDirectory(Path.of("/tmp"), "kmodpack-mount-helper", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        KernelTrees.Tree tree = KernelTrees.get("amd64");
        Path base = dir.resolve("base");
        src = base.resolve("lib/modules/" + VER);
        Files.createDirectories(src.resolve("kernel/fs"));
        for (String p : List.of("kernel/fs/jbd2", "modules.dep", "modules.dep.bin")) {
            Process cp = new ProcessBuilder("cp", "-a", tree.modulesDir().resolve(p).toString(), src.resolve(p).toString()).inheritIO().start();
            assertEquals(0, cp.waitFor());
        }
        Files.createDirectories(src.resolve("extra/übung"));
        Files.writeString(src.resolve("extra/übung/naïve-名前.txt"), "UTF-8 names\n");
        Files.createSymbolicLink(src.resolve("extra/link-ü"), Path.of("übung/naïve-名前.txt"));
        image = dir.resolve("helper.img");
        Kmodpack.Result r = Kmodpack.run("build", "-b", base.toString(), "-o", image.toString(), "--codec", "lz4", "--level", "1", VER);
        assertEquals(0, r.exit(), r.toString());
        jar = dir.resolve("kmodpack.jar");
        Files.copy(Kmodpack.jar(), jar, StandardCopyOption.REPLACE_EXISTING);
        for (Path p : List.of(image, jar)) {
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r--r--"));
        }
    }

    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /** Runs a shell script in a private mount namespace; skips where namespaces are not allowed. */
    static MountSupport.Cmd inNamespace(String script) throws Exception {
        MountSupport.Cmd probe = MountSupport.run("unshare", "-m", "true");
        Assumptions.assumeTrue(probe.exit() == 0, "no mount namespaces here: " + probe.err());
        List<String> cmd = new ArrayList<>(List.of("unshare", "-m", "sh", "-euc", script));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("KMODPACK_JAR", Kmodpack.jar().toString());
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Path out = Files.createTempFile("ns-out", "");
        Path err = Files.createTempFile("ns-err", "");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        int code = p.waitFor();
        MountSupport.Cmd r = new MountSupport.Cmd(code, Files.readString(out), Files.readString(err));
        Files.delete(out);
        Files.delete(err);
        return r;
    }

    static String q(Object o) {
        return "'" + o.toString().replace("'", "'\\''") + "'";
    }

    @Test
    void mountTypeAndFstabGoThroughTheHelper() throws Exception {
        Path helperDir = Files.createDirectories(dir.resolve("sbin-extra"));
        Path helper = helperDir.resolve("mount.fuse.kmodpack");
        Files.deleteIfExists(helper);
        Files.createSymbolicLink(helper, KernelTrees.projectHome().resolve("scripts/mount.fuse.kmodpack"));
        Path mp = Files.createDirectories(dir.resolve("mnt-helper"));
        Path fstab = dir.resolve("fstab");
        Files.writeString(fstab, image + " " + mp + " fuse.kmodpack ro,allow_other,nofail 0 0\n");
        Path sbin = Path.of("/sbin").toRealPath();
        String script = String.join("\n",
                "trap 'fusermount -u -z " + q(mp) + " 2>/dev/null || true' EXIT",
                // /sbin gains the helper, in this namespace only.
                "mount -t overlay overlay -o lowerdir=" + q(helperDir) + ":" + q(sbin) + " " + q(sbin),
                "mount -t fuse.kmodpack " + q(image) + " " + q(mp),
                "grep -F ' fuse.kmodpack ' /proc/self/mountinfo | grep -F " + q(mp),
                "cat " + q(mp.resolve("extra/link-ü")),
                "\"$JAVA_HOME/bin/java\" -jar \"$KMODPACK_JAR\" umount " + q(mp),
                "if grep -qF ' fuse.kmodpack ' /proc/self/mountinfo; then echo still-mounted; fi",
                "mount -T " + q(fstab) + " " + q(mp),
                "grep -F ' fuse.kmodpack ' /proc/self/mountinfo | grep -F " + q(mp) + " | grep -o 'allow_other'",
                "sha256sum " + q(mp.resolve("kernel/fs/jbd2/jbd2.ko")) + " | cut -d' ' -f1",
                "\"$JAVA_HOME/bin/java\" -jar \"$KMODPACK_JAR\" umount " + q(mp));
        MountSupport.Cmd r = inNamespace(script);
        assertEquals(0, r.exit(), r.toString());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).contains(" fuse.kmodpack " + image + " "), r.toString());
        assertEquals("UTF-8 names", lines.get(1));
        assertFalse(r.out().contains("still-mounted"), r.toString());
        assertEquals("allow_other", lines.get(2), r.toString());
        String expected = MountSupport.run("sha256sum", src.resolve("kernel/fs/jbd2/jbd2.ko").toString()).out().split(" ")[0];
        assertEquals(expected, lines.get(3));
        assertFalse(MountSupport.isMounted(mp));
    }

    @Test
    void defaultMountPointIsLibModulesVersionAndUtf8NamesWork() throws Exception {
        // In this namespace only, /lib gets a writable layer and an empty modules directory (a tmpfs).
        Path lib = Path.of("/lib").toRealPath();
        Path upper = Files.createDirectories(dir.resolve("lib-upper"));
        Path work = Files.createDirectories(dir.resolve("lib-work"));
        Path libModules = lib.resolve("modules");
        String script = String.join("\n",
                "trap 'fusermount -u -z " + q(libModules.resolve(VER)) + " 2>/dev/null || true' EXIT",
                "mount -t overlay overlay -o lowerdir=" + q(lib) + ",upperdir=" + q(upper) + ",workdir=" + q(work) + " " + q(lib),
                "mkdir -p " + q(libModules) + " && mount -t tmpfs tmpfs " + q(libModules),
                // Only the mount made here: the namespace starts with a copy of the host's mounts.
                "grep -F ' fuse.kmodpack ' /proc/self/mountinfo | cut -d' ' -f5 | sort > " + q(dir.resolve("before")),
                "\"$JAVA_HOME/bin/java\" -jar \"$KMODPACK_JAR\" mount " + q(image),
                "grep -F ' fuse.kmodpack ' /proc/self/mountinfo | cut -d' ' -f5 | sort | comm -13 " + q(dir.resolve("before")) + " -",
                "find " + q(libModules.resolve(VER)) + " | sort",
                "\"$JAVA_HOME/bin/java\" -jar \"$KMODPACK_JAR\" umount " + q(libModules.resolve(VER)));
        MountSupport.Cmd r = inNamespace(script);
        assertEquals(0, r.exit(), r.toString());
        List<String> lines = r.out().lines().toList();
        assertEquals(libModules.resolve(VER).toString().replace(" ", "\\040"), lines.get(0), r.toString());
        List<String> found = lines.subList(1, lines.size()).stream()
                .map(l -> libModules.resolve(VER).relativize(Path.of(l)).toString()).sorted().toList();
        assertEquals(TreeAssert.relativePaths(src), found);
        assertTrue(found.contains("extra/übung/naïve-名前.txt"), found.toString());
    }

    @Test
    void aUserWithoutTheRightGetsAOneLineError() throws Exception {
        Assumptions.assumeTrue(MountSupport.run("id", "-u").out().trim().equals("0"), "needs root to switch to an unprivileged user");
        Path rootOnly = Files.createDirectories(dir.resolve("mnt-root-only"));
        List<String> cmd = new ArrayList<>(asNobody());
        cmd.addAll(List.of("mount", image.toString(), rootOnly.toString()));
        MountSupport.Cmd r = MountSupport.run(cmd, dir);
        assertNotEquals(0, r.exit(), r.toString());
        assertEquals(1, r.err().lines().count(), r.toString());
        assertFalse(MountSupport.isMounted(rootOnly));
        String devMode = PosixFilePermissions.toString(Files.getPosixFilePermissions(Path.of("/dev/fuse")));
        if (devMode.endsWith("rw-")) {
            assertTrue(r.err().startsWith("kmodpack: cannot mount") && r.err().contains("no write access to mountpoint"), r.toString());
        } else {
            // A device only root may open (as in many containers): libfuse 2 cannot mount for others.
            assertTrue(r.err().startsWith("kmodpack: no permission to use /dev/fuse"), r.toString());
        }
    }

    /**
     * The usual desktop set-up: /dev/fuse open to all (crw-rw-rw-), fusermount setuid root. In a
     * namespace whose /dev/fuse is such a node, an unprivileged user gets one-line errors where
     * it may not mount, and mounts, reads and unmounts where it may.
     */
    @Test
    void anUnprivilegedUserMountsThroughFusermount() throws Exception {
        Assumptions.assumeTrue(MountSupport.run("id", "-u").out().trim().equals("0"), "needs root to switch to an unprivileged user");
        Path devDir = Files.createDirectories(dir.resolve("dev"));
        Path rootOnly = Files.createDirectories(dir.resolve("mnt-root-only-2"));
        Path mine = Files.createDirectories(dir.resolve("mnt-nobody"));
        MountSupport.run("chown", "65534:65534", mine.toString());
        String nobody = String.join(" ", asNobody().stream().map(MountHelperTest::q).toList());
        boolean userAllowOther = Files.readString(Path.of("/etc/fuse.conf")).lines().anyMatch(l -> l.strip().equals("user_allow_other"));
        String script = String.join("\n",
                "trap 'fusermount -u -z " + q(mine) + " 2>/dev/null || true' EXIT",
                "mount -t tmpfs -o dev,mode=755 tmpfs " + q(devDir),
                "mknod -m 666 " + q(devDir.resolve("fuse")) + " c 10 229",
                "mount --bind " + q(devDir.resolve("fuse")) + " /dev/fuse",
                "cd " + q(dir),
                "if " + nobody + " mount " + q(image) + " " + q(rootOnly) + " 2> err1; then echo unexpected-mount; fi",
                userAllowOther ? "true > err2"
                        : "if " + nobody + " mount -o allow_other " + q(image) + " " + q(mine) + " 2> err2; then echo unexpected-mount; fi",
                nobody + " mount " + q(image) + " " + q(mine),
                "setpriv --reuid=65534 --regid=65534 --clear-groups sha256sum " + q(mine.resolve("modules.dep")) + " | cut -d' ' -f1",
                "grep -F ' fuse.kmodpack ' /proc/self/mountinfo | grep -F " + q(mine) + " | grep -o 'nosuid,nodev'",
                nobody + " umount " + q(mine),
                // Only this mount point: other kmodpack mounts of the host are copied into the namespace.
                "grep -F ' fuse.kmodpack ' /proc/self/mountinfo | grep -qF " + q(mine) + " && echo still-mounted",
                "cat err1; echo; cat err2",
                "true");
        MountSupport.Cmd r = inNamespace(script);
        assertEquals(0, r.exit(), r.toString());
        assertFalse(r.out().contains("unexpected-mount") || r.out().contains("still-mounted"), r.toString());
        List<String> lines = r.out().lines().toList();
        String expected = MountSupport.run("sha256sum", src.resolve("modules.dep").toString()).out().split(" ")[0];
        assertEquals(expected, lines.get(0), r.toString());
        assertEquals("nosuid,nodev", lines.get(1), "a user mount, " + r);
        assertTrue(lines.get(2).startsWith("kmodpack: cannot mount") && lines.get(2).contains("no write access to mountpoint"), r.toString());
        if (!userAllowOther) {
            assertTrue(lines.get(4).contains("allow_other") && lines.get(4).contains("user_allow_other"), r.toString());
        }
        assertFalse(MountSupport.isMounted(mine));
    }

    private static List<String> asNobody() {
        return List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", java(), "-Dfile.encoding=UTF-8", "-jar", jar.toString());
    }

}

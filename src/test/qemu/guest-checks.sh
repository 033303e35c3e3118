# Guest side of src/test/qemu/run, sourced by the initramfs /init after its set-up (kmodpack
# loads nothing before this). Prints one "@@RESULT NAME PASS|FAIL DETAIL" line per check, with
# "@@LOG NAME ..." lines explaining a failure, then powers the machine off.
# /etc/kmodpack-test.conf (written by the host) sets VER, XZ_IMAGE, DAMAGE (offsets to break in
# the image) and SHA_* (checksums of files as the host sees them).
. /etc/kmodpack-test.conf
IMAGE=/boot/modules-$VER
echo /bin/false > /proc/sys/kernel/modprobe

now() { cut -d' ' -f1 /proc/uptime; }
# kp ARGS...: run kmodpack, leaving rc, out (/tmp/out), err (/tmp/err) and secs.
kp() {
    t0=$(now)
    kmodpack "$@" >/tmp/out 2>/tmp/err
    rc=$?
    secs=$(echo "$(now) - $t0" | bc)
}
loaded() { grep -q "^$1 " /proc/modules; }
live() { grep -q "^$1 .* Live " /proc/modules; }
pass() { echo "@@RESULT $1 PASS $2"; }
fail() {
    echo "@@RESULT $1 FAIL $2"
    sed "s/^/@@LOG $1 stdout: /" /tmp/out 2>/dev/null | head -n 20
    sed "s/^/@@LOG $1 stderr: /" /tmp/err 2>/dev/null | head -n 20
    dmesg | tail -n 5 | sed "s/^/@@LOG $1 dmesg: /"
}
# check_loaded NAME "cmd args" MOD...: the command succeeds and every MOD is live.
check_loaded() {
    name=$1 args=$2
    shift 2
    kp $args
    missing=
    for m in "$@"; do live "$m" || missing="$missing $m"; done
    if [ $rc -ne 0 ]; then
        fail "$name" "kmodpack $args: exit $rc"
    elif [ -n "$missing" ]; then
        fail "$name" "kmodpack $args: not live:$missing"
    else
        pass "$name" "kmodpack $args: $# modules live in ${secs}s"
    fi
}
count_modules() { wc -l < /proc/modules; }

# 1. Closures with soft dependencies. On qemu's default CPU crc32c-intel refuses to load (no
#    SSE4.2), so the crypto-crc32c softdep is met by crc32c_generic.
check_loaded closure-ext4 "modprobe ext4" ext4 jbd2 mbcache crc16 crc32c_generic
check_loaded closure-nf_conntrack "modprobe nf_conntrack" nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6 libcrc32c
check_loaded closure-btrfs "modprobe btrfs" btrfs xor raid6_pq zstd_compress libcrc32c blake2b_generic
# A device alias matched by a wildcard pattern of modules.alias (e1000's PCI ids).
check_loaded alias-only "modprobe pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00" e1000
check_loaded param "modprobe loop max_loop=3" loop
if [ "$(cat /sys/module/loop/parameters/max_loop 2>/dev/null)" = 3 ]; then
    pass param-sysfs "/sys/module/loop/parameters/max_loop = 3"
else
    fail param-sysfs "/sys/module/loop/parameters/max_loop = '$(cat /sys/module/loop/parameters/max_loop 2>&1)'"
fi

# 3. Errors.
before=$(count_modules)
kp modprobe ext4
if [ $rc -eq 0 ] && [ "$(count_modules)" = "$before" ]; then
    pass already-loaded "modprobe ext4 again: exit 0, nothing loaded (${secs}s)"
else
    fail already-loaded "modprobe ext4 again: exit $rc, modules $before -> $(count_modules)"
fi

kp modprobe no_such_module_kmp
if [ $rc -ne 0 ] && grep -q 'no_such_module_kmp' /tmp/err && [ "$(count_modules)" = "$before" ]; then
    pass unknown-name "exit $rc: $(head -n1 /tmp/err)"
else
    fail unknown-name "exit $rc, expected a failure naming the module"
fi

kp modprobe dummy no_such_param=1
if [ $rc -ne 0 ] && grep -qi 'unknown parameter' /tmp/err && ! loaded dummy; then
    pass unknown-param "exit $rc: $(head -n1 /tmp/err)"
else
    fail unknown-param "exit $rc, expected a failure mentioning the unknown parameter, dummy not loaded"
fi

# A copy of the image with bytes broken inside isofs.ko only; its dependency cdrom lies in
# intact blocks. Nothing of the closure may reach the kernel.
cp "$IMAGE" /tmp/damaged.img
for off in $DAMAGE; do
    printf '\125' | dd of=/tmp/damaged.img bs=1 seek="$off" conv=notrunc 2>/dev/null
done
kp modprobe --image /tmp/damaged.img isofs
if [ $rc -ne 0 ] && [ -s /tmp/err ] && ! loaded isofs && ! loaded cdrom; then
    pass damaged-image "exit $rc, nothing loaded: $(head -n1 /tmp/err)"
else
    fail damaged-image "exit $rc, isofs $(loaded isofs && echo loaded || echo absent), cdrom $(loaded cdrom && echo loaded || echo absent)"
fi
truncate -s 40000000 /tmp/damaged.img
kp modprobe --image /tmp/damaged.img isofs
if [ $rc -ne 0 ] && [ -s /tmp/err ] && ! loaded isofs && ! loaded cdrom; then
    pass truncated-image "exit $rc, nothing loaded: $(head -n1 /tmp/err)"
else
    fail truncated-image "exit $rc, isofs $(loaded isofs && echo loaded || echo absent), cdrom $(loaded cdrom && echo loaded || echo absent)"
fi
rm -f /tmp/damaged.img

# -r removes the module and the dependencies nothing else uses: libcrc32c stays for btrfs.
kp modprobe -r nf_conntrack
gone=
for m in nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6; do loaded $m || gone="$gone $m"; done
if [ $rc -eq 0 ] && [ "$gone" = " nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6" ] && live libcrc32c; then
    pass remove "modprobe -r nf_conntrack: removed$gone, libcrc32c kept (${secs}s)"
else
    fail remove "modprobe -r nf_conntrack: exit $rc, removed:$gone, libcrc32c $(loaded libcrc32c && echo kept || echo removed)"
fi

# 4. A tree of .ko.xz files: Debian 12's kernel cannot decompress, so kmodpack must.
check_loaded xz-tree "modprobe --image $XZ_IMAGE -a sctp xfs" sctp udp_tunnel ip6_udp_tunnel xfs

# 2. FUSE: kmodpack loads fuse, mounts the image, and a stock modprobe works through the mount.
check_loaded fuse "modprobe fuse" fuse
mkdir -p "/lib/modules/$VER"
t0=$(now)
kmodpack mount "$IMAGE" "/lib/modules/$VER" >/tmp/mount.out 2>/tmp/mount.err &
mount_pid=$!
i=0
while ! grep -q " /lib/modules/$VER fuse" /proc/mounts && [ $i -lt 600 ]; do
    kill -0 $mount_pid 2>/dev/null || break
    usleep 100000; i=$((i + 1))
done
if grep -q " /lib/modules/$VER fuse" /proc/mounts; then
    took=$(echo "$(now) - $t0" | bc)
    sum_ko=$(sha256sum "/lib/modules/$VER/kernel/fs/ext4/ext4.ko" | cut -d' ' -f1)
    sum_dep=$(sha256sum "/lib/modules/$VER/modules.dep.bin" | cut -d' ' -f1)
    if [ "$sum_ko" = "$SHA_EXT4" ] && [ "$sum_dep" = "$SHA_DEPBIN" ]; then
        pass mount "kmodpack mount: mounted in ${took}s, ext4.ko and modules.dep.bin read back intact"
    else
        cp /tmp/mount.err /tmp/err; : > /tmp/out
        fail mount "through the mount: ext4.ko sha256 $sum_ko (want $SHA_EXT4), modules.dep.bin $sum_dep (want $SHA_DEPBIN)"
    fi
    t0=$(now)
    modprobe vfat >/tmp/out 2>/tmp/err
    rc=$?
    if [ $rc -eq 0 ] && live vfat && live fat; then
        pass stock-modprobe "busybox modprobe vfat through the mount: vfat fat live ($(echo "$(now) - $t0" | bc)s)"
    else
        fail stock-modprobe "busybox modprobe vfat: exit $rc"
    fi
    if umount "/lib/modules/$VER" 2>/tmp/err || fusermount -u "/lib/modules/$VER" 2>>/tmp/err; then
        pass unmount "unmounted"
    else
        fail unmount "cannot unmount"
    fi
else
    cp /tmp/mount.out /tmp/out; cp /tmp/mount.err /tmp/err
    fail mount "kmodpack mount: no FUSE mount on /lib/modules/$VER"
    echo "@@RESULT stock-modprobe FAIL no mount"
    echo "@@RESULT unmount FAIL no mount"
fi
kill $mount_pid 2>/dev/null

echo "@@DONE"
poweroff -f

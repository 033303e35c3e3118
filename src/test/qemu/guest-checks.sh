# Guest side of src/test/qemu/run, sourced by the initramfs /init after its set-up (kmodpack
# loads nothing before this). Prints one "@@RESULT NAME PASS|FAIL DETAIL" line per check, with
# "@@LOG NAME ..." lines explaining a failure, then powers the machine off.
# /etc/kmodpack-test.conf (written by the host) sets VER, XZ_IMAGE, NODEPS_IMAGE, DAMAGE (offsets
# to break in the image) and SHA_* (checksums of files as the host sees them).
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

# 0. A disk that needs modules (arm64 on qemu's `virt`; DISK_SHA is set only there): the virtio
#    disk does not exist until kmodpack loads its drivers from the image; then the ext4 file
#    system on it mounts with ext4's closure from the image, and a file on it reads back.
if [ -n "$DISK_SHA" ]; then
    if [ ! -e /sys/block/vda ] && ! loaded virtio_pci && ! loaded virtio_blk; then
        pass virtio-absent "no /sys/block/vda, virtio_pci and virtio_blk not loaded"
    else
        fail virtio-absent "the disk or its drivers exist before kmodpack loaded anything"
    fi
    kp modprobe -a virtio_pci virtio_blk
    n=0
    while [ ! -b /dev/vda ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
    if [ $rc -eq 0 ] && live virtio_pci && live virtio_blk && [ -b /dev/vda ]; then
        pass virtio-disk "kmodpack modprobe -a virtio_pci virtio_blk: /dev/vda after ${secs}s"
    else
        fail virtio-disk "kmodpack modprobe -a virtio_pci virtio_blk: exit $rc, /dev/vda $([ -b /dev/vda ] && echo present || echo absent)"
    fi
    kp modprobe ext4
    mkdir -p /mnt
    if [ $rc -eq 0 ] && mount -t ext4 -o ro /dev/vda /mnt 2>/tmp/err \
        && [ "$(sha256sum /mnt/hello.txt 2>/dev/null | cut -d' ' -f1)" = "$DISK_SHA" ]; then
        pass ext4-disk "ext4 from the image (${secs}s), /dev/vda mounted, hello.txt read back: $(cat /mnt/hello.txt)"
    else
        fail ext4-disk "kmodpack modprobe ext4: exit $rc; mount or read of /dev/vda failed"
    fi
    umount /mnt 2>/dev/null
fi

# 1. Closures with soft dependencies, and a module reached only through a device alias (e1000's
#    PCI ids, matched by a wildcard pattern of modules.alias), in one run. On qemu's default CPU
#    crc32c-intel refuses to load (no SSE4.2): the crypto-crc32c softdep falls to crc32c_generic.
alias=pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00
kp modprobe -a ext4 nf_conntrack btrfs $alias
first_rc=$rc first_secs=$secs
closure() { # NAME MOD...
    name=$1
    shift
    missing=
    for m in "$@"; do live "$m" || missing="$missing $m"; done
    if [ $first_rc -ne 0 ]; then
        fail "$name" "kmodpack modprobe -a ext4 nf_conntrack btrfs $alias: exit $first_rc"
    elif [ -n "$missing" ]; then
        fail "$name" "not live:$missing"
    else
        pass "$name" "live: $* (one modprobe -a run for all four: ${first_secs}s)"
    fi
}
closure closure-ext4 ext4 jbd2 mbcache crc16 crc32c_generic
closure closure-nf_conntrack nf_conntrack nf_defrag_ipv4 nf_defrag_ipv6 libcrc32c
closure closure-btrfs btrfs xor raid6_pq zstd_compress libcrc32c blake2b_generic
closure alias-only e1000

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

# Linux ignores a parameter the module does not have (since 3.x: "unknown parameter 'X'
# ignored"), so modprobe succeeds, as kmod's does; the kernel's warning shows it was passed.
kp modprobe dummy no_such_param=1
if [ $rc -eq 0 ] && live dummy && dmesg | grep -q "dummy: unknown parameter 'no_such_param' ignored"; then
    pass unknown-param "exit 0, the kernel ignored it: $(dmesg | grep -o "dummy: unknown parameter.*" | tail -n1)"
else
    fail unknown-param "exit $rc, dummy $(live dummy && echo live || echo absent), expected the kernel's 'unknown parameter ignored' warning"
fi

# ENOENT from the kernel: udf packed in a tree without its dependencies (depmod found none).
kp modprobe --image "$NODEPS_IMAGE" udf
if [ $rc -ne 0 ] && grep -q 'Unknown symbol in module, or unknown parameter' /tmp/err && ! loaded udf; then
    pass enoent-wording "exit $rc: $(head -n1 /tmp/err)"
else
    fail enoent-wording "exit $rc, udf $(loaded udf && echo loaded || echo absent), expected kmod's ENOENT wording"
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
    fail damaged-image "exit $rc; isofs $(loaded isofs && echo loaded || echo absent), its dependency cdrom (intact blocks) $(loaded cdrom && echo 'reached the kernel before the damage was found' || echo absent)"
fi
truncate -s 40000000 /tmp/damaged.img
before=$(count_modules)
kp modprobe --image /tmp/damaged.img udf
if [ $rc -ne 0 ] && [ -s /tmp/err ] && [ "$(count_modules)" = "$before" ]; then
    pass truncated-image "exit $rc, nothing loaded: $(head -n1 /tmp/err)"
else
    fail truncated-image "exit $rc, modules $before -> $(count_modules)"
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
kp mount "$IMAGE" "/lib/modules/$VER"
if [ $rc -eq 0 ] && grep -q " /lib/modules/$VER fuse" /proc/mounts; then
    sum_ko=$(sha256sum "/lib/modules/$VER/kernel/fs/ext4/ext4.ko" | cut -d' ' -f1)
    sum_dep=$(sha256sum "/lib/modules/$VER/modules.dep.bin" | cut -d' ' -f1)
    if [ "$sum_ko" = "$SHA_EXT4" ] && [ "$sum_dep" = "$SHA_DEPBIN" ]; then
        pass mount "kmodpack mount: ready in ${secs}s; ext4.ko and modules.dep.bin read back intact"
    else
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
    kp umount "/lib/modules/$VER"
    if [ $rc -eq 0 ] && ! grep -q " /lib/modules/$VER " /proc/mounts; then
        pass unmount "kmodpack umount (${secs}s)"
    else
        fail unmount "kmodpack umount: exit $rc, $(grep -c " /lib/modules/$VER " /proc/mounts) mount(s) left"
    fi
else
    fail mount "kmodpack mount: exit $rc, no FUSE mount on /lib/modules/$VER"
    echo "@@RESULT stock-modprobe FAIL no mount"
    echo "@@RESULT unmount FAIL no mount"
fi

echo "@@DONE"
poweroff -f

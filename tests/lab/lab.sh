# Shared helpers for the lab host scripts (sourced, bash).
# The lab host: Debian's own 6.1 kernel booted under QEMU TCG with -cpu max,
# which gives us a working function tracer and nested KVM (SVM) on machines
# whose own kernel denies both. See docs/lab.md.

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_TOP=$(cd "$LAB_SRC/../.." && pwd)
LAB_CACHE=${HAPVM_LAB_CACHE:-/var/cache/hapvm-lab}

# Loaded only when the lab host is a Xen dom0 (tests/lab/run --xen).
LAB_XEN_DOM0_MODULES="xenfs xen_evtchn xen_gntdev xen_privcmd xen_gntalloc xen_blkback xen_netback"
# Modules the L1 initramfs carries (closure added by modprobe --show-depends).
# The 9p/overlay set is needed to reach the host root; the rest is what the
# tests and front ends use inside the lab.
LAB_L1_MODULES="virtio_pci virtio_blk virtio_net virtio_console 9p 9pnet_virtio overlay
 kvm kvm_amd kvm_intel tun vhost vhost_net bridge veth ext4 loop
 $LAB_XEN_DOM0_MODULES"
# The L2 guest only needs its virtio devices.
LAB_L2_MODULES="virtio_pci virtio_net virtio_blk"
# A PV domU of the Xen lab: its split-driver frontends.
LAB_XEN_DOMU_MODULES="xen_blkfront xen_netfront"
# Xen packages (tests/lab/run --xen); the tools must match the hypervisor.
LAB_XEN_VER=${HAPVM_LAB_XEN_VER:-4.17}

lab_log() { printf 'hapvm-lab: %s\n' "$*" >&2; }
lab_die() { printf 'hapvm-lab: error: %s\n' "$*" >&2; exit 125; }

lab_need() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 ||
            lab_die "'$c' not found; run build-aux/install-deps (as root) to install the lab's packages"
    done
}

# The kernel package linux-image-amd64 depends on, e.g. linux-image-6.1.0-56-amd64.
lab_kernel_pkg() {
    if [ -n "${HAPVM_LAB_KERNEL:-}" ]; then
        echo "linux-image-$HAPVM_LAB_KERNEL"
        return
    fi
    local p
    p=$(apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    if [ -z "$p" ]; then
        # No package index yet (fresh machine): fetch it once.
        apt-get update -qq >/dev/null 2>&1 || true
        p=$(apt-cache depends linux-image-amd64 2>/dev/null |
            awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    fi
    [ -n "$p" ] || lab_die "cannot find the kernel package that linux-image-amd64 depends on (apt-cache depends linux-image-amd64); is Debian's mirror in sources.list?"
    echo "$p"
}

# apt-get download PKG into the cache, once. Prints the .deb path.
lab_download() {
    local pkg=$1 deb
    mkdir -p "$LAB_CACHE/debs"
    deb=$(ls "$LAB_CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n1)
    if [ -n "$deb" ]; then
        lab_log "cached: $(basename "$deb") ($(du -m "$deb" | cut -f1) MB)"
        echo "$deb"
        return
    fi
    lab_log "downloading $pkg"
    (cd "$LAB_CACHE/debs" &&
        { apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null 2>&1 ||
          { apt-get update -qq >/dev/null 2>&1 &&
            apt-get download -q -o APT::Sandbox::User=root "$pkg" >/dev/null; }; }) ||
        lab_die "apt-get download $pkg failed"
    deb=$(ls "$LAB_CACHE/debs/${pkg}_"*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || lab_die "apt-get download $pkg left no .deb in $LAB_CACHE/debs"
    lab_log "downloaded: $(basename "$deb") ($(du -m "$deb" | cut -f1) MB)"
    echo "$deb"
}

# Content hash of files (and extra strings), for cache keys.
lab_hash() {
    { for a in "$@"; do if [ -f "$a" ]; then cat "$a"; else echo "$a"; fi; done; } |
        sha256sum | cut -c1-16
}

# Copy MODULES and their dependency closure from kernel tree KROOT into ROOT.
lab_copy_modules() {
    local kroot=$1 kver=$2 root=$3; shift 3
    local m line ko
    mkdir -p "$root/lib/modules/$kver"
    cp "$kroot/lib/modules/$kver/modules.builtin" "$kroot/lib/modules/$kver/modules.builtin.modinfo" \
        "$kroot/lib/modules/$kver/modules.order" \
        "$root/lib/modules/$kver/" 2>/dev/null || true
    for m in "$@"; do
        modprobe -d "$kroot" -S "$kver" --show-depends "$m" 2>/dev/null |
        while read -r line; do
            case "$line" in
                insmod\ *) ko=${line#insmod }; ko=${ko%% *}
                           ko=${ko#"$kroot"}
                           mkdir -p "$root$(dirname "$ko")"
                           cp "$kroot$ko" "$root$ko" ;;
            esac
        done
    done
    depmod -b "$root" "$kver"
}

# Make a busybox root with init script INIT and MODULES; write gzipped cpio OUT.
lab_mkinitrd() {
    local kroot=$1 kver=$2 init=$3 out=$4; shift 4
    local tmp
    tmp=$(mktemp -d)
    mkdir -p "$tmp/bin" "$tmp/sbin" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/run" "$tmp/etc"
    cp /bin/busybox "$tmp/bin/busybox"
    ln -s busybox "$tmp/bin/sh"
    cp "$init" "$tmp/init"
    chmod 755 "$tmp/init"
    lab_copy_modules "$kroot" "$kver" "$tmp" "$@"
    (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -1) > "$out.tmp"
    mv "$out.tmp" "$out"
    rm -rf "$tmp"
}

# Fetch the kernel, build both initramfs images and the static workloads.
# Sets LAB_KVER, LAB_KERN (extracted package root), LAB_VMLINUZ, LAB_L1_INITRD,
# LAB_L2_INITRD, LAB_BIN.
lab_prepare() {
    lab_need qemu-system-x86_64 busybox cpio gzip modprobe depmod dpkg-deb apt-get cc
    [ -x /bin/busybox ] || lab_die "/bin/busybox missing: install busybox-static"
    local pkg deb h
    pkg=$(lab_kernel_pkg) || exit 125
    LAB_KVER=${pkg#linux-image-}
    deb=$(lab_download "$pkg") || exit 125
    LAB_KERN=$LAB_CACHE/kern-$LAB_KVER
    if [ ! -f "$LAB_KERN/.done" ]; then
        rm -rf "$LAB_KERN"
        mkdir -p "$LAB_KERN"
        dpkg-deb -x "$deb" "$LAB_KERN"
        # modules.dep is generated at install time, not shipped in the .deb.
        depmod -b "$LAB_KERN" "$LAB_KVER"
        touch "$LAB_KERN/.done"
    fi
    LAB_VMLINUZ=$LAB_KERN/boot/vmlinuz-$LAB_KVER

    h=$(lab_hash "$LAB_SRC/init" "$LAB_SRC/lab.sh" "$LAB_KVER" /bin/busybox)
    LAB_L1_INITRD=$LAB_CACHE/l1-$LAB_KVER-$h.cpio.gz
    if [ ! -f "$LAB_L1_INITRD" ]; then
        lab_log "building L1 initramfs"
        rm -f "$LAB_CACHE"/l1-*.cpio.gz
        # shellcheck disable=SC2086
        lab_mkinitrd "$LAB_KERN" "$LAB_KVER" "$LAB_SRC/init" "$LAB_L1_INITRD" $LAB_L1_MODULES
    fi
    h=$(lab_hash "$LAB_SRC/l2init" "$LAB_SRC/lab.sh" "$LAB_KVER" /bin/busybox)
    LAB_L2_INITRD=$LAB_CACHE/l2-$LAB_KVER-$h.cpio.gz
    if [ ! -f "$LAB_L2_INITRD" ]; then
        lab_log "building L2 initramfs"
        rm -f "$LAB_CACHE"/l2-*.cpio.gz
        # shellcheck disable=SC2086
        lab_mkinitrd "$LAB_KERN" "$LAB_KVER" "$LAB_SRC/l2init" "$LAB_L2_INITRD" $LAB_L2_MODULES
    fi
    # Static workloads: they run unchanged in L1 (chroot) and in the L2 guest.
    LAB_BIN=$LAB_CACHE/bin
    mkdir -p "$LAB_BIN"
    local src name
    for src in "$LAB_SRC"/workloads/*.c; do
        name=$(basename "$src" .c)
        h=$(lab_hash "$src")
        if [ ! -x "$LAB_BIN/$name-$h" ]; then
            rm -f "$LAB_BIN/$name"-*
            cc -static -O2 -Wall -Werror -o "$LAB_BIN/$name-$h" "$src" ||
                lab_die "cannot build workload $src (static libc from libc6-dev needed)"
        fi
        ln -sf "$name-$h" "$LAB_BIN/$name"
    done
}

# Debuginfo for the lab kernel, for the line index (HAP-L): the -dbg package
# of the flavour the lab boots (amd64; the build-id must match, and the
# smaller cloud-amd64 flavour has no 9p, which the lab needs for its root).
# Extracted once into $LAB_CACHE/dbg-<release>/, laid out like /usr/lib/debug:
# boot/vmlinux-<release> plus the .ko of the modules the lab loads (the
# dependency closure of LAB_L1_MODULES).  HAPVM_LAB_DBG_ALL=1 takes every
# module (5.4 GB on disk).  The 858 MB .deb stays in $LAB_CACHE/debs.
# Sets LAB_KVER and LAB_DBG.
lab_debuginfo() {
    lab_need dpkg-deb apt-get tar modprobe depmod
    local pkg deb kroot dir tmp t0 want m line ko
    pkg=$(lab_kernel_pkg) || exit 125
    LAB_KVER=${pkg#linux-image-}
    LAB_DBG=$LAB_CACHE/dbg-$LAB_KVER
    dir=$LAB_DBG
    # Several tests ask at once on a fresh machine (lineindextest,
    # visibilitytest, reportgolden): one downloads and extracts, the others
    # wait for it (the lock goes with the process).
    mkdir -p "$LAB_CACHE"
    local lk
    exec {lk}>"$LAB_CACHE/.debuginfo.lock"
    flock "$lk"
    # The module list is part of the key: a module added to the lab (Xen's
    # backends) makes the next call extract again.
    local key
    key=$(lab_hash "$LAB_L1_MODULES $LAB_L2_MODULES")
    if [ "$(cat "$dir/.done" 2>/dev/null)" = "$key" ] && { [ -z "${HAPVM_LAB_DBG_ALL:-}" ] || [ -f "$dir/.all" ]; }; then
        return 0
    fi
    t0=$EPOCHREALTIME
    deb=$(lab_download "$pkg-dbg") || exit 125
    tmp=$(mktemp -d "$LAB_CACHE/dbg-tmp.XXXXXX")
    want="./usr/lib/debug/boot/vmlinux-$LAB_KVER"
    if [ -z "${HAPVM_LAB_DBG_ALL:-}" ]; then
        # Module paths from the kernel package's own modules.dep.
        kroot=$LAB_CACHE/kern-$LAB_KVER
        if [ ! -f "$kroot/.done" ]; then
            local kdeb
            kdeb=$(lab_download "$pkg") || exit 125
            rm -rf "$kroot"
            mkdir -p "$kroot"
            dpkg-deb -x "$kdeb" "$kroot"
            depmod -b "$kroot" "$LAB_KVER"
            touch "$kroot/.done"
        fi
        for m in $LAB_L1_MODULES $LAB_L2_MODULES; do
            modprobe -d "$kroot" -S "$LAB_KVER" --show-depends "$m" 2>/dev/null
        done > "$tmp/deps"
        while read -r line; do
            case "$line" in
                insmod\ *) ko=${line#insmod }; ko=${ko%% *}
                           want="$want ./usr/lib/debug${ko#"$kroot"}" ;;
            esac
        done < "$tmp/deps"
        want=$(printf '%s\n' $want | sort -u)
    else
        want="$want ./usr/lib/debug/lib/modules/$LAB_KVER/kernel"
    fi
    lab_log "extracting debuginfo ($(printf '%s\n' $want | wc -l) paths) into $dir"
    # xz is one stream: the whole archive is decompressed whatever is kept.
    # shellcheck disable=SC2086
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" $want ||
        { rm -rf "$tmp"; lab_die "cannot extract $want from $deb"; }
    rm -rf "$dir"
    mv "$tmp/usr/lib/debug" "$dir"
    rm -rf "$tmp"
    echo "$key" > "$dir/.done"
    [ -n "${HAPVM_LAB_DBG_ALL:-}" ] && touch "$dir/.all"
    lab_log "debuginfo ready: $dir ($(du -sm "$dir" | cut -f1) MB, $(find "$dir" -name '*.ko' | wc -l) modules," \
        "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s)"
}

# The Xen lab (tests/lab/run --xen): Debian's Xen hypervisor and its tools,
# downloaded and extracted once; the domU initramfs.  Call after lab_prepare.
# Sets LAB_XEN_DIR (cache dir of this Xen version), LAB_XEN_IMG (the
# uncompressed hypervisor: QEMU's multiboot loader rejects xen.gz),
# LAB_XEN_ROOT (the tools' package tree, copied into dom0 by xen-dom0),
# LAB_XEN_DOMU_INITRD, LAB_XEN_DOMU_KERNEL (the lab kernel's ELF vmlinux).
lab_prepare_xen() {
    lab_need xz gunzip ldd
    local pkgs="xen-hypervisor-$LAB_XEN_VER-amd64 xen-utils-$LAB_XEN_VER xen-utils-common xenstore-utils"
    local p deb debs=() ver h tmp missing
    for p in $pkgs; do
        deb=$(lab_download "$p") || exit 125
        debs+=("$deb")
    done
    # One version for all four (the tools talk to this hypervisor's ABI).
    ver=$(dpkg-deb -f "${debs[0]}" Version)
    for deb in "${debs[@]}"; do
        [ "$(dpkg-deb -f "$deb" Version)" = "$ver" ] ||
            lab_die "$deb is not version $ver like ${debs[0]}: remove the stale .deb from $LAB_CACHE/debs"
    done
    LAB_XEN_DIR=$LAB_CACHE/xen-$ver
    LAB_XEN_IMG=$LAB_XEN_DIR/xen
    LAB_XEN_ROOT=$LAB_XEN_DIR/root
    if [ ! -f "$LAB_XEN_DIR/.done" ]; then
        lab_log "extracting Xen $ver into $LAB_XEN_DIR"
        rm -rf "$LAB_XEN_DIR"
        tmp=$LAB_XEN_DIR.tmp.$$
        rm -rf "$tmp"
        mkdir -p "$tmp/root"
        for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$tmp/root" || lab_die "cannot extract $deb"; done
        gunzip -c "$tmp/root/boot/xen-$LAB_XEN_VER-amd64.gz" > "$tmp/xen" ||
            lab_die "cannot gunzip boot/xen-$LAB_XEN_VER-amd64.gz from ${debs[0]}"
        rm -rf "$tmp/root/boot" "$tmp/root/usr/share/doc" "$tmp/root/usr/share/man" "$tmp/root/etc/init.d"
        mv "$tmp" "$LAB_XEN_DIR"
        touch "$LAB_XEN_DIR/.done"
    fi
    # The tools link against libxen* of the same series, taken from this
    # machine's root (libxen-dev pulls them in).
    missing=$(LC_ALL=C ldd "$LAB_XEN_ROOT/usr/lib/xen-$LAB_XEN_VER/bin/xl" \
                          "$LAB_XEN_ROOT/usr/lib/xen-$LAB_XEN_VER/bin/xenstored" 2>&1 |
              awk '/not found/ { print $1 }' | sort -u | tr '\n' ' ')
    [ -z "$missing" ] ||
        lab_die "Xen $ver tools need libraries this machine lacks: $missing(install libxen-dev, libxenmisc$LAB_XEN_VER: build-aux/install-deps)"

    # domUs boot the lab kernel's ELF image, taken out of its bzImage here:
    # libxc would XZ-decompress the bzImage in dom0 at every xl create, and
    # under TCG that failed now and then ("unable to XZ decompress kernel:
    # Invalid kernel"), the same file succeeding a minute later.
    LAB_XEN_DOMU_KERNEL=$LAB_XEN_DIR/vmlinux-$LAB_KVER
    if [ ! -f "$LAB_XEN_DOMU_KERNEL" ]; then
        local off
        off=$(LC_ALL=C grep -abo $'\xfd7zXZ\x00' "$LAB_VMLINUZ" | head -n1 | cut -d: -f1)
        [ -n "$off" ] || lab_die "no XZ payload in $LAB_VMLINUZ (cannot make the domU's vmlinux)"
        tail -c +$((off + 1)) "$LAB_VMLINUZ" | xz -dc --single-stream > "$LAB_XEN_DOMU_KERNEL.tmp" 2>/dev/null
        [ "$(head -c 4 "$LAB_XEN_DOMU_KERNEL.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
            { rm -f "$LAB_XEN_DOMU_KERNEL.tmp"; lab_die "the XZ payload of $LAB_VMLINUZ is not an ELF image"; }
        mv "$LAB_XEN_DOMU_KERNEL.tmp" "$LAB_XEN_DOMU_KERNEL"
    fi

    h=$(lab_hash "$LAB_SRC/xen-domu-init" "$LAB_SRC/lab.sh" "$LAB_KVER" /bin/busybox)
    # Kept uncompressed: xen-domu appends the workload's cpio, and libxc
    # cannot gunzip concatenated gzip members.
    LAB_XEN_DOMU_INITRD=$LAB_CACHE/xd-$LAB_KVER-$h.cpio
    if [ ! -f "$LAB_XEN_DOMU_INITRD" ]; then
        lab_log "building the Xen domU initramfs"
        rm -f "$LAB_CACHE"/xd-*.cpio "$LAB_CACHE"/xd-*.cpio.gz
        # shellcheck disable=SC2086
        lab_mkinitrd "$LAB_KERN" "$LAB_KVER" "$LAB_SRC/xen-domu-init" "$LAB_XEN_DOMU_INITRD.gz" $LAB_XEN_DOMU_MODULES
        gunzip -c "$LAB_XEN_DOMU_INITRD.gz" > "$LAB_XEN_DOMU_INITRD.tmp" && mv "$LAB_XEN_DOMU_INITRD.tmp" "$LAB_XEN_DOMU_INITRD"
        rm -f "$LAB_XEN_DOMU_INITRD.gz"
    fi
}

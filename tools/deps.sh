# Debian 12 packages tether needs; sourced by tools/demo and tools/test.
# shellcheck shell=bash

TETHER_BUILD_DEPS="gcc meson ninja-build pkg-config libjose-dev libjansson-dev
libssl-dev libmicrohttpd-dev libgnutls28-dev libsystemd-dev libcmocka-dev clang
libclang-rt-14-dev libcryptsetup-dev libluksmeta-dev libseccomp-dev
libinih-dev zlib1g-dev libtss2-dev"

# The real peers the interop tests prove compatibility against, and the
# tools the tests and benchmarks drive them with; from qemu-system-x86 on,
# what the boot tests need: QEMU, Debian's kernel, mkinitramfs with
# cryptroot and LVM, a static busybox for the guest's root, dnsmasq for
# its DHCP and DNS, and clevis-initramfs to compare sizes with; from
# debhelper on, what the system tests build, check and install the Debian
# packages with; strace places the kills of luks-kill.sh and holds a
# `tetherd keys create` mid-write in keyfiles.sh; logrotate runs the
# shipped snippet in journal.sh; swtpm is the TPM of tpm2.sh, against
# clevis-tpm2 and the tpm2-tools it runs (the TCTI module for swtpm too);
# promtool (prometheus) checks the metrics; dracut-core and
# dracut-network (beside initramfs-tools, which the `dracut` package
# would replace) build the images of tests/boot/dracut.sh.
TETHER_TEST_DEPS="tang clevis jose curl socat systemd iproute2 procps prometheus
python3 openssl wrk clevis-luks cryptsetup-bin luksmeta jq util-linux
qemu-system-x86 linux-image-amd64 initramfs-tools cryptsetup-initramfs
busybox-static klibc-utils e2fsprogs zstd lvm2 clevis-initramfs dnsmasq-base
keyutils debhelper dpkg-dev build-essential lintian mmdebstrap
bash-completion strace logrotate swtpm swtpm-tools clevis-tpm2 tpm2-tools
libtss2-tcti-swtpm0 dracut-core dracut-network"

install_deps() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "tools: run as root (installs packages with apt-get)" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q || return 1
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends "$@" || return 1
}

build_tree() { # DIR [meson options...]
	local dir=$1
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" || return 1
	fi
	ninja -C "$dir" || return 1
}

# The user tetherd drops to when started as root (what systemd-sysusers
# makes from systemd/tether.sysusers on an installed system).
ensure_service_user() {
	id tether >/dev/null 2>&1 ||
		useradd --system --home-dir /var/lib/tether --no-create-home \
			--shell /usr/sbin/nologin tether
}

#!/usr/bin/env bash
# The initramfs figures, from one run of the boot test (tests/boot/boot.sh):
# time from kernel start to the root unlocked, and the size tether's hook
# adds to an initramfs next to what Debian's clevis-initramfs adds, both
# images built by mkinitramfs in the same run with the same settings.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
if [ ! -f build/build.ninja ]; then
	meson setup build >/dev/null || exit 1
fi
ninja -C build >/dev/null || exit 1
export TETHERD=$PWD/build/src/server/tetherd TETHER=$PWD/build/src/client/tether
export TETHER_TOKEN_PLUGIN=$PWD/build/src/token/libcryptsetup-token-clevis.so
export TETHER_INITRAMFS_HOOK=$PWD/build/initramfs/tether-hook
export TETHER_INITRAMFS_SCRIPTS=$PWD/initramfs/scripts
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
start=$(date +%s)
bash tests/boot/boot.sh >bench-initramfs.tap 2>&1
rc=$?
sed -n 's/^# \(initramfs size\|time from\)/\1/p' bench-initramfs.tap
echo "boot test: $(grep -c '^ok' bench-initramfs.tap) passed," \
	"$(grep -c '^not ok' bench-initramfs.tap) failed, $(( $(date +%s) - start )) s" \
	"(full output in bench-initramfs.tap)"
exit $rc

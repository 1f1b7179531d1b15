# Shared by the system tests: tether's Debian packages built from this
# source tree, and a Debian 12 root made by mmdebstrap, built once per
# build tree and kept in $SYSTEM_CACHE.
# shellcheck shell=bash
. "$(dirname "$0")/../interop/lib.sh"
: "${TETHER_SOURCE_ROOT:?TETHER_SOURCE_ROOT must name the source tree}"
: "${SYSTEM_CACHE:?SYSTEM_CACHE must name a directory for built roots}"
W=$TEST_DIR

# SYSTEM_KEEP=DIR keeps the test's files there, for debugging.
if [ -n "${SYSTEM_KEEP:-}" ]; then
	keep_files() { rm -rf "$SYSTEM_KEEP"; cp -a "$TEST_DIR" "$SYSTEM_KEEP"; cleanup; }
	trap keep_files EXIT
fi

bail() { # DESCRIPTION [DETAIL...]: a failed step nothing after can use
	not_ok "$@"
	done_testing
	exit 1
}

# build_debs DIR: dpkg-buildpackage on a copy of the source tree (what git
# tracks, as it is in the working tree); the .deb files land in DIR. The
# same tree builds the same packages: they are kept in $SYSTEM_CACHE by
# the tree's hash, so the second test of a run takes the first's.
build_debs() {
	local out=$1 src=$1/src key cache
	mkdir -p "$src" "$SYSTEM_CACHE"
	git -C "$TETHER_SOURCE_ROOT" ls-files -z --cached --others \
		--exclude-standard | (cd "$TETHER_SOURCE_ROOT" &&
		xargs -0 cp --parents -t "$src" 2>/dev/null)
	[ -f "$src/debian/control" ] || return 1
	key=$(cd "$src" && find . -type f -print0 | sort -z |
		xargs -0 sha256sum | sha256sum | cut -c1-16)
	cache=$SYSTEM_CACHE/debs-$key
	(
		flock 9
		if [ -f "$cache/built" ]; then
			echo "# packages of this tree, built before: $cache" >"$out/build.log"
			cp "$cache"/* "$out/"
			rm -f "$out/built"
			exit
		fi
		(cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
			dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || exit 1
		rm -rf "$cache" && mkdir "$cache" &&
			cp "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo "$cache/" &&
			touch "$cache/built"
	) 9>"$SYSTEM_CACHE/debs.lock"
}

# The packages tether's sit beside in the tests: Debian's own NBDE stack.
DEBIAN_PEERS=tang,clevis,clevis-luks,clevis-initramfs
# What tether's packages depend on, so that dpkg -i needs no network.
DEBIAN_DEPS=libjose0,libjansson4,libmicrohttpd12,libinih1,libseccomp2,libluksmeta0,libcryptsetup12,cryptsetup-initramfs,busybox,bash-completion

# What the booted host needs besides: one root serves both tests.
DEBIAN_HOST=linux-image-amd64,udev,kmod,e2fsprogs,iproute2

# debian_root TAR [PACKAGES]: a minbase Debian 12 with systemd-sysv,
# Debian's NBDE packages and tether's dependencies, as a tarball, made
# once for each list of packages (under a lock: the system tests run side
# by side and share it).
debian_root() {
	local tar=$1 extra=${2:+,$2} key
	key=$(printf '%s' "$DEBIAN_PEERS,$DEBIAN_DEPS$extra" | sha256sum | cut -c1-16)
	mkdir -p "$SYSTEM_CACHE"
	(
		flock 9
		[ -s "$SYSTEM_CACHE/root-$key.tar" ] && exit 0
		mmdebstrap --variant=minbase --format=tar \
			--include="systemd-sysv,$DEBIAN_PEERS,$DEBIAN_DEPS$extra" \
			bookworm "$SYSTEM_CACHE/root-$key.tar.part" \
			>"$W/mmdebstrap.log" 2>&1 || exit 1
		mv "$SYSTEM_CACHE/root-$key.tar.part" "$SYSTEM_CACHE/root-$key.tar"
	) 9>"$SYSTEM_CACHE/root.lock" || return 1
	ln -sf "$SYSTEM_CACHE/root-$key.tar" "$tar"
}

# Shared by the boot tests: a tiny LUKS2 root image made on the host, an
# initramfs built by mkinitramfs with tether's hook in a private mount
# namespace (the host's /etc and /usr/share/initramfs-tools are never
# changed), and QEMU boots with the serial console in a log and a FIFO
# to type on.
# shellcheck shell=bash
. "$(dirname "$0")/../interop/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"
: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the token plugin}"
: "${TETHER_INITRAMFS_HOOK:?TETHER_INITRAMFS_HOOK must name the built hook}"
: "${TETHER_INITRAMFS_SCRIPTS:?TETHER_INITRAMFS_SCRIPTS must name initramfs/scripts}"

PASS="boot passphrase"
MARKER=TETHER-BOOT-OK
# Every boot ends by this many seconds, whatever happens in the guest.
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
W=$TEST_DIR
boot_pids=()
loops=()
netns=()

boot_cleanup() {
	local pid l n
	for pid in "${boot_pids[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for l in "${loops[@]}"; do
		losetup -d "$l" 2>/dev/null
	done
	for n in "${netns[@]}"; do
		ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	# TETHER_BOOT_KEEP=DIR keeps the images and logs there, for debugging.
	if [ -n "${TETHER_BOOT_KEEP:-}" ]; then
		rm -rf "$TETHER_BOOT_KEEP"
		cp -a "$TEST_DIR" "$TETHER_BOOT_KEEP"
	fi
	cleanup
}
trap boot_cleanup EXIT

# loop_detach DEV: detaches a loop device this test attached, and forgets
# it, so that clean-up never detaches one another program attached since.
loop_detach() {
	local l keep=()
	losetup -d "$1"
	for l in "${loops[@]}"; do
		[ "$l" = "$1" ] || keep+=("$l")
	done
	loops=("${keep[@]}")
}

bail() { # DESCRIPTION [DETAIL...]: a failed step nothing after can use
	not_ok "$@"
	done_testing
	exit 1
}

KVER=${KVER:-$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' |
	while read -r v; do [ -r "/boot/vmlinuz-$v" ] && echo "$v"; done |
	sort -V | tail -n 1)}
VMLINUZ=/boot/vmlinuz-$KVER

# root_dir DIR: a root file system whose /sbin/init prints the addresses
# the initramfs left configured (not the loopback's), then the marker with the
# uptime, and powers off.
root_dir() {
	mkdir -p "$1/bin" "$1/sbin" "$1/proc" "$1/dev" "$1/sys" "$1/run" "$1/etc"
	cp /bin/busybox "$1/bin/busybox"
	# systemd in an initramfs (dracut's) switches only to an OS tree.
	printf 'ID=tether-boot-test\nNAME="tether boot test"\n' >"$1/etc/os-release"
	cat >"$1/sbin/init" <<-EOF
		#!/bin/busybox sh
		/bin/busybox mount -t proc proc /proc
		read -r up _ </proc/uptime
		/bin/busybox ip -o addr show | /bin/busybox sed '/: lo /d; s/^/init address: /'
		echo "$MARKER \$up"
		/bin/busybox poweroff -f
	EOF
	chmod 755 "$1/sbin/init"
}

# luks_image FILE: a LUKS2 volume holding the root file system, made the
# way an existing disk is encrypted in place; keyslot 0 holds $PASS.
luks_image() {
	rm -rf "$W/rootdir"
	root_dir "$W/rootdir"
	truncate -s 32M "$1" &&
		mkfs.ext4 -q -L troot -d "$W/rootdir" "$1" &&
		truncate -s 48M "$1" &&
		printf %s "$PASS" | cryptsetup reencrypt --encrypt --type luks2 \
			--reduce-device-size 16M --pbkdf pbkdf2 \
			--pbkdf-force-iterations 1000 --batch-mode \
			--key-file - "$1" >/dev/null
}

# lvm_luks_image FILE UUID: LVM inside LUKS, with LUKS UUID UUID: a
# volume group "tvg" whose logical volume "root" holds the root file
# system. With no device-mapper on the host, the LV is written as
# metadata (vgcfgrestore) over a loop device and the file system copied
# to where its extents lie; then the whole PV is encrypted in place.
lvm_luks_image() {
	local f=$1 uuid=$2 loop pe_start lvc rc=0
	lvc='devices { filter=["a|^/dev/loop|","r|.*|"] }'
	rm -rf "$W/rootdir"
	root_dir "$W/rootdir"
	truncate -s 24M "$W/lv.ext4" &&
		mkfs.ext4 -q -L troot -d "$W/rootdir" "$W/lv.ext4" &&
		truncate -s 48M "$f" || return 1
	loop=$(losetup -f --show --sizelimit $((32 * 1024 * 1024)) "$f") ||
		return 1
	loops+=("$loop")
	export LVM_SUPPRESS_FD_WARNINGS=1
	{
		pvcreate --config "$lvc" -q -y "$loop" &&
			vgcreate --config "$lvc" -q tvg "$loop" &&
			vgcfgbackup --config "$lvc" -q -f "$W/vg.txt" tvg &&
			pe_start=$(pvs --config "$lvc" --noheadings --units b \
				--nosuffix -o pe_start "$loop" | tr -d ' ') &&
			awk -v id="$(lv_id)" '
				/^}/ && !done {
					print "\tlogical_volumes {\n\t\troot {"
					print "\t\t\tid = \"" id "\""
					print "\t\t\tstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]"
					print "\t\t\tflags = []\n\t\t\tsegment_count = 1"
					print "\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0"
					print "\t\t\t\textent_count = 6\n\t\t\t\ttype = \"striped\""
					print "\t\t\t\tstripe_count = 1"
					print "\t\t\t\tstripes = [\"pv0\", 0]\n\t\t\t}\n\t\t}\n\t}"
					done = 1
				}
				{ print }' "$W/vg.txt" >"$W/vg-lv.txt" &&
			vgcfgrestore --config "$lvc" -q -f "$W/vg-lv.txt" tvg &&
			dd if="$W/lv.ext4" of="$loop" bs=1M seek=$((pe_start / 1048576)) \
				conv=notrunc status=none
	} >"$W/lvm.log" 2>&1 || rc=1
	loop_detach "$loop"
	[ $rc -eq 0 ] || return 1
	printf %s "$PASS" | cryptsetup reencrypt --encrypt --type luks2 \
		--reduce-device-size 16M --pbkdf pbkdf2 --uuid "$uuid" \
		--pbkdf-force-iterations 1000 --batch-mode --key-file - "$f" >/dev/null
}

# luks_data_image FILE: a small LUKS2 volume with no file system (a
# second crypttab entry); keyslot 0 holds $PASS.
luks_data_image() {
	truncate -s 20M "$1" &&
		printf %s "$PASS" | cryptsetup luksFormat --type luks2 --batch-mode \
			--pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$1" - >/dev/null
}

# two_volumes PREFIX OPTIONS: the root as LVM inside LUKS ($W/lvm.img,
# with the root's LUKS UUID $UUID) and a data volume ($W/data.img, its
# UUID in DATA_UUID), both bound to the server at 10.0.2.2:$SRV_PORT and
# attached to the loop devices LOOP and LOOP2 (for the image build to
# read their bindings); $W/crypttab-two lists both with OPTIONS. PREFIX
# starts each TAP line.
two_volumes() {
	local p=$1 opts=$2 url="{\"url\":\"http://10.0.2.2:$SRV_PORT\",\"adv\":\"$W/adv.json\"}"
	lvm_luks_image "$W/lvm.img" "$UUID" ||
		bail "${p}an LVM-inside-LUKS image" "$(tail -n 5 "$W/lvm.log")"
	check "${p}lvm: the LVM-inside-LUKS image has the root's LUKS UUID" \
		test "$(cryptsetup luksUUID "$W/lvm.img")" = "$UUID"
	check "${p}lvm: bind it to http://10.0.2.2" bind "$W/lvm.img" "$url"
	luks_data_image "$W/data.img" || bail "${p}a LUKS2 data volume"
	check "${p}lvm: a data volume bound to the same server" bind "$W/data.img" "$url"
	DATA_UUID=$(cryptsetup luksUUID "$W/data.img")
	LOOP=$(losetup -f --show "$W/lvm.img") && loops+=("$LOOP") &&
		LOOP2=$(losetup -f --show "$W/data.img") && loops+=("$LOOP2") ||
		bail "${p}loop devices for the two volumes"
	printf 'root UUID=%s none %s\ndata UUID=%s none %s\n' \
		"$UUID" "$opts" "$DATA_UUID" "$opts" >"$W/crypttab-two"
}

lv_id() { # an LVM object id: 32 characters in groups of 6-4-4-4-4-4-6
	tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32 |
		sed 's/^\(......\)\(....\)\(....\)\(....\)\(....\)\(....\)/\1-\2-\3-\4-\5-\6-/'
}

# bind IMAGE CONFIG: tether luks bind with the passphrase.
bind() {
	printf %s "$PASS" | "$TETHER" luks bind -d "$1" -k - -y tang "$2"
}

# share_tree DIR WITH: a copy of /usr/share/initramfs-tools without any
# NBDE client's files, then with tether's (WITH=tether), clevis's
# (WITH=clevis), both (WITH=both: tether-initramfs-tools installed beside
# clevis-initramfs) or neither (WITH=none). mkinitramfs runs every hook and
# copies every boot script of /usr/share/initramfs-tools whatever its -d
# says, and clevis's hook checks nothing: an image without clevis needs a
# tree without it, lent in a private mount namespace (see mkinitrd).
share_tree() {
	local d=$1 f
	cp -a /usr/share/initramfs-tools "$d"
	for f in hooks/tether scripts/local-top/tether scripts/local-bottom/tether; do
		rm -f "$d/$f"
	done
	if [ "$2" != clevis ] && [ "$2" != both ]; then
		rm -f "$d/hooks/clevis" "$d/scripts/local-top/clevis" \
			"$d/scripts/local-bottom/clevis"
	fi
	if [ "$2" = tether ] || [ "$2" = both ]; then
		install -m 755 "$TETHER_INITRAMFS_HOOK" "$d/hooks/tether"
		install -m 755 "$TETHER_INITRAMFS_SCRIPTS/local-top/tether" \
			"$d/scripts/local-top/tether"
		install -m 755 "$TETHER_INITRAMFS_SCRIPTS/local-bottom/tether" \
			"$d/scripts/local-bottom/tether"
	fi
}

# conf_dir DIR: an initramfs-tools configuration with only the drivers
# the guest needs (MODULES=list), so images build quickly and stay small.
conf_dir() {
	mkdir -p "$1/conf.d" "$1/hooks" "$1/scripts"
	sed -e 's/^MODULES=.*/MODULES=list/' -e 's/^KEYMAP=.*/KEYMAP=n/' \
		/etc/initramfs-tools/initramfs.conf >"$1/initramfs.conf"
	printf '%s\n' virtio_pci virtio_blk virtio_net ext4 >"$1/modules"
}

# mkinitrd SHARE CONF CRYPTTAB OUT: mkinitramfs in a private mount
# namespace where SHARE is /usr/share/initramfs-tools and CRYPTTAB is
# /etc/crypttab; tether comes from the build tree.
mkinitrd() {
	unshare -m sh -c 'mount --bind "$1" /usr/share/initramfs-tools &&
		mount --bind "$2" /etc/crypttab && shift 2 && exec "$@"' \
		sh "$1" "$3" env TMPDIR="$W" TETHER_BIN="$TETHER" \
		TETHER_TOKEN_PLUGIN="$TETHER_TOKEN_PLUGIN" \
		mkinitramfs -d "$2" -o "$4" "$KVER"
}

# initrd_files IMAGE: the paths inside an initramfs image.
initrd_files() {
	unmkinitramfs "$1" "$W/unpack.$$" >/dev/null 2>&1 &&
		(cd "$W/unpack.$$" && find . -mindepth 1 | sed 's|^\./||; s|^main/||') &&
		rm -rf "$W/unpack.$$"
}

# Software emulation by default: it works everywhere, and a /dev/kvm that
# exists may still not run a guest (nested virtualisation). kvm:tcg tries
# KVM first.
ACCEL=${TETHER_BOOT_ACCEL:-tcg}
accel_args() {
	local a
	for a in ${ACCEL//:/ }; do
		if [ "$a" = kvm ] && [ ! -w /dev/kvm ]; then
			continue
		fi
		printf -- '-accel\n%s\n' "$a"
	done
}

# boot NAME IMAGE INITRD APPEND [QEMU ARGS...]: starts a guest in the
# background; its console goes to $W/NAME.log, fd 7 types on it.
# Prefix with NETNS=name to run QEMU in a network namespace.
boot() {
	local name=$1 image=$2 initrd=$3 append=$4
	shift 4
	rm -f "$W/$name.in"
	mkfifo "$W/$name.in"
	mapfile -t accel < <(accel_args)
	${NETNS:+ip netns exec "$NETNS"} timeout "$BOOT_TIMEOUT" \
		qemu-system-x86_64 "${accel[@]}" -m 512 -smp 1 \
		-display none -monitor none -serial stdio -no-reboot \
		-kernel "$VMLINUZ" -initrd "$initrd" \
		-append "console=ttyS0 root=/dev/mapper/root panic=-1 $append" \
		-drive "file=$image,format=raw,if=virtio" "$@" \
		<"$W/$name.in" >"$W/$name.log" 2>&1 &
	BOOT_PID=$!
	boot_pids+=("$BOOT_PID")
	exec 7>"$W/$name.in"
	BOOT_START=$(date +%s.%N)
}

# wait_console NAME REGEX: until the console shows REGEX or the guest is
# gone (the guest's own timeout bounds it).
wait_console() {
	while ! grep -Eq -- "$2" "$W/$1.log" 2>/dev/null; do
		if ! kill -0 "$BOOT_PID" 2>/dev/null; then
			grep -Eq -- "$2" "$W/$1.log" 2>/dev/null
			return
		fi
		sleep 0.2
	done
}

# boot_end: waits for the guest to power off; sets BOOT_WALL (seconds).
boot_end() {
	wait "$BOOT_PID" 2>/dev/null
	exec 7>&-
	BOOT_WALL=$(awk -v a="$BOOT_START" -v b="$(date +%s.%N)" \
		'BEGIN { printf "%.1f", b - a }')
}

console_tail() { # NAME: the end of a console log, for failure details
	tail -n 40 "$W/$1.log" | tr -d '\r'
}

# dracut_tree DIR WITH: a copy of dracut's modules.d without any NBDE
# client's modules, then with tether's (WITH=tether), clevis's
# (WITH=clevis) or neither (WITH=none); dracut reads its modules from
# one directory, lent in a private mount namespace (see mkdracut).
dracut_tree() {
	local d=$1 m
	: "${TETHER_DRACUT_MODULE:?TETHER_DRACUT_MODULE must name dracut/modules.d/91tether}"
	: "${TETHER_DRACUT_MODULE_SETUP:?TETHER_DRACUT_MODULE_SETUP must name the built module-setup.sh}"
	cp -a /usr/lib/dracut/modules.d "$d"
	rm -rf "$d"/[0-9][0-9]tether
	if [ "$2" != clevis ]; then
		for m in "$d"/[0-9][0-9]clevis*; do
			rm -rf "$m"
		done
	fi
	if [ "$2" = tether ]; then
		mkdir "$d/91tether"
		cp "$TETHER_DRACUT_MODULE"/*.sh "$TETHER_DRACUT_MODULE"/*.service \
			"$d/91tether/"
		install -m 755 "$TETHER_DRACUT_MODULE_SETUP" "$d/91tether/module-setup.sh"
	fi
}

# mkdracut MODULES CRYPTTAB OUT [DRACUT ARGS...]: a generic image with
# dracut's systemd initramfs, in a private mount namespace where MODULES
# is /usr/lib/dracut/modules.d and CRYPTTAB is /etc/crypttab (it goes into
# the image too); no dracut.conf of the host is read, tether comes from
# the build tree.
mkdracut() {
	local modules=$1 tab=$2 out=$3
	shift 3
	mkdir -p "$W/dracut.conf.d"
	unshare -m sh -c 'mount --bind "$1" /usr/lib/dracut/modules.d &&
		mount --bind "$2" /etc/crypttab && shift 2 && exec "$@"' \
		sh "$modules" "$tab" env TMPDIR="$W" TETHER_BIN="$TETHER" \
		TETHER_TOKEN_PLUGIN="$TETHER_TOKEN_PLUGIN" \
		dracut --force --conf /dev/null --confdir "$W/dracut.conf.d" \
		--tmpdir "$W" --no-hostonly --no-hostonly-cmdline --compress "zstd -q -3 -T0" \
		--add "systemd crypt" --omit "plymouth" \
		--drivers "virtio_pci virtio_blk virtio_net ext4 dm_crypt" \
		--include "$tab" /etc/crypttab "$@" --kver "$KVER" "$out"
}

# link_ns: a network namespace ($NS) with a tap device for the guest
# (QEMU's arguments in TAP), dnsmasq on it for DHCP and DNS (the domain
# boot.test, keys.boot.test is the tap's address $NS_ADDR) and IPv6
# router advertisements (SLAAC in fd77::/64; the tap is $NS_ADDR6), and
# tetherd there on port $NS_PORT of both addresses with the keys of
# $W/keys.
link_ns() {
	NS=tether-boot-$$
	NS_ADDR=10.77.0.1
	NS_ADDR6=fd77::1
	ip netns add "$NS" || return 1
	netns+=("$NS")
	ip -n "$NS" link set lo up &&
		ip -n "$NS" tuntap add dev tap0 mode tap &&
		ip -n "$NS" addr add "$NS_ADDR/24" dev tap0 &&
		ip -n "$NS" addr add "$NS_ADDR6/64" dev tap0 nodad &&
		ip -n "$NS" link set tap0 up || return 1
	ip netns exec "$NS" dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--no-resolv --no-hosts --user=root --bind-interfaces --interface=tap0 \
		--except-interface=lo --dhcp-range=10.77.0.10,10.77.0.50,255.255.255.0,1h \
		--dhcp-option=option:router,"$NS_ADDR" \
		--dhcp-option=option:dns-server,"$NS_ADDR" \
		--domain=boot.test --dhcp-option=option:domain-search,boot.test \
		--enable-ra --dhcp-range=::,constructor:tap0,ra-only,64,1h \
		--host-record=keys.boot.test,"$NS_ADDR" --leasefile-ro --pid-file= \
		--log-queries --log-dhcp --log-facility=- >>"$W/dnsmasq.log" 2>&1 &
	test_pids+=("$!")
	NS_PORT=$(free_port)
	ip netns exec "$NS" "$TETHERD" serve --keys "$W/keys" \
		--listen "http://$NS_ADDR:$NS_PORT" --listen "http://[$NS_ADDR6]:$NS_PORT" \
		>>"$W/ns.log" 2>&1 &
	test_pids+=("$!")
	TAP=(-netdev "tap,id=n0,ifname=tap0,script=no,downscript=no"
		-device "virtio-net-pci,netdev=n0")
	wait_for "tetherd in the namespace" ip netns exec "$NS" curl -sf \
		-o /dev/null "http://$NS_ADDR:$NS_PORT/adv"
}

# mdns_responder NAME: answers mDNS questions for NAME with $NS_ADDR on
# the namespace's link, logging them to $W/mdns.queries.
mdns_responder() {
	ip netns exec "$NS" python3 "$(dirname "$0")/../interop/mdns-responder.py" \
		--iface-addr "$NS_ADDR" --name "$1=$NS_ADDR" --log "$W/mdns.queries" \
		--ready "$W/mdns.ready" >>"$W/mdns.log" 2>&1 &
	test_pids+=("$!")
	wait_for "the mDNS responder" test -s "$W/mdns.ready"
}

# unattended NAME DESCRIPTION [LOG...]: the root booted and tether says
# it unlocked it, nothing typed; on failure the console's tail and each
# LOG's tail explain why.
unattended() {
	local name=$1 desc=$2 f details=()
	shift 2
	wait_console "$name" "$MARKER"
	boot_end
	if grep -q "$MARKER" "$W/$name.log" &&
		grep -q 'tether: root unlocked' "$W/$name.log"; then
		ok "$desc (${BOOT_WALL} s)"
		return
	fi
	for f in "$@"; do
		details+=("$(tail -n 20 "$f")")
	done
	not_ok "$desc" "$(console_tail "$name")" "${details[@]}"
}

# typed_boot NAME DESCRIPTION: types the passphrase; the root booted,
# with tether not claiming the unlock.
typed_boot() {
	local name=$1 desc=$2
	printf '%s\n' "$PASS" >&7
	wait_console "$name" "$MARKER"
	boot_end
	if grep -q "$MARKER" "$W/$name.log" &&
		! grep -q 'tether: root unlocked' "$W/$name.log"; then
		ok "$desc (${BOOT_WALL} s)"
	else
		not_ok "$desc" "$(console_tail "$name")"
	fi
}

# tls_tetherd CLIENT...: tetherd over https on the host (the guest's
# 10.0.2.2) at $TLS_PORT, with a test CA's certificate, logging to
# $W/tls.log; each CLIENT gets a credential, its token in TOKEN[CLIENT],
# the clients file is $CLIENTS. A binding trusts it through CA_JSON (the
# CA as a JSON string) or PIN (the key's sha256// pin).
declare -A TOKEN
tls_tetherd() {
	local d=$W/pki c
	test_ca "$d" && test_cert "$d" srv 10.0.2.2 IP:10.0.2.2,IP:127.0.0.1 ||
		return 1
	CLIENTS=$W/clients
	for c in "$@"; do
		TOKEN[$c]=$("$TETHERD" clients add "$c" --clients "$CLIENTS") || return 1
	done
	TLS_PORT=$(free_port)
	"$TETHERD" serve --keys "$W/keys" --clients "$CLIENTS" \
		--listen "https://127.0.0.1:$TLS_PORT" --tls-cert "$d/srv.pem" \
		--tls-key "$d/srv.key" >>"$W/tls.log" 2>&1 &
	test_pids+=("$!")
	CA_JSON=$(jq -Rs . <"$d/ca.pem")
	PIN="sha256//$(openssl x509 -in "$d/srv.pem" -pubkey -noout |
		openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
	wait_for "tetherd https" curl -sf --cacert "$d/ca.pem" -u "$1:${TOKEN[$1]}" \
		-o /dev/null "https://127.0.0.1:$TLS_PORT/adv"
}

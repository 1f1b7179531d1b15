#!/usr/bin/env bash
# tether unlocking a LUKS2 root at boot with dracut's systemd initramfs:
# Debian's kernel under QEMU, an image built by Debian's dracut with
# tether's module (lent in a private mount namespace), and tetherd on the
# host. systemd-cryptsetup asks for the passphrase through the
# ask-password protocol; tether's agent answers it with the key its
# binding recovers, and the console still takes a typed one. Each TAP
# line names the generator (dracut). Debian's clevis-dracut is built and
# booted beside it for figures.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../interop/swtpm-lib.sh"
: "${TETHER_DRACUT_MODULE:?TETHER_DRACUT_MODULE must name dracut/modules.d/91tether}"
: "${TETHER_DRACUT_MODULE_SETUP:?TETHER_DRACUT_MODULE_SETUP must name the built module-setup.sh}"
G=dracut

for tool in qemu-system-x86_64 dracut lsinitrd cryptsetup mkfs.ext4 \
	losetup unshare dhclient lvm swtpm; do
	command -v "$tool" >/dev/null ||
		bail "$G: $tool is installed (dracut-core, dracut-network)"
done
[ -r "$VMLINUZ" ] || bail "a Debian kernel in /boot (linux-image-amd64)"
ok "$G: kernel $KVER, dracut $(dracut --version 2>/dev/null | awk '{ print $2 }'), accelerators: $(accel_args | grep -v -- -accel | tr '\n' ' ')"

# ------------------------------------------------ images
luks_image "$W/luks.img" || bail "a LUKS2 root image made in place on a file"
UUID=$(cryptsetup luksUUID "$W/luks.img")
mkdir -m 0700 "$W/keys"
start_tetherd srv "$W/keys" || bail "tetherd starts"
SRV_PORT=$PORT
curl -sf "$URL/adv" >"$W/adv.json"

cp "$W/luks.img" "$W/ip.img"
check "$G: bind the root to http://10.0.2.2 (the host on QEMU's user network)" \
	bind "$W/ip.img" "{\"url\":\"http://10.0.2.2:$SRV_PORT\",\"adv\":\"$W/adv.json\"}"

# The module reads the bindings of the volumes the image opens at build
# time (crypttab): lend it the image through a loop device.
LOOP=$(losetup -f --show "$W/ip.img") || bail "a loop device for the image"
loops+=("$LOOP")
printf 'root UUID=%s none luks\n' "$UUID" >"$W/crypttab"
for v in tether none; do
	dracut_tree "$W/modules-$v" "$v"
done
# Three images: with tether's module; with neither it nor the network;
# with the network alone, as tether's module brings it in (dracut's
# legacy handler), so that what tether itself adds is told apart.
# CRYPTTAB=FILE names another crypttab.
build_image() { # NAME MODULES [DRACUT ARGS...]
	local name=$1 modules=$2
	shift 2
	mkdracut "$W/modules-$modules" "${CRYPTTAB:-$W/crypttab}" "$W/initrd-$name" "$@" \
		>"$W/dracut-$name.log" 2>&1 ||
		bail "$G: dracut builds an image ($name)" "$(tail -n 20 "$W/dracut-$name.log")"
}
build_image tether tether
build_image none none
build_image net none --add "network-legacy network"
loop_detach "$LOOP"
ok "$G: dracut builds images with tether's module, without, and with the network alone"
check "$G: building with tether's module prints no error" \
	sh -c "! grep -Ei 'error|fail|warn' '$W/dracut-tether.log'"

lsinitrd "$W/initrd-tether" >"$W/files-tether" 2>&1
lsinitrd "$W/initrd-none" >"$W/files-none" 2>&1
has() { grep -Eq -- "$2" "$W/files-$1"; }
check "$G: the tether image holds tether" has tether ' usr/bin/tether$'
check "$G: ... the token plugin" has tether 'cryptsetup/libcryptsetup-token-clevis\.so$'
check "$G: ... the password agent and its unit" has tether 'tether-askpass\.service$'
check "$G: ... rd.neednet=1 of its own" sh -c \
	"lsinitrd -f etc/cmdline.d/91tether.conf '$W/initrd-tether' | grep -qx 'rd.neednet=1'"
check "$G: ... and no CA bundle: the binding is plain http" \
	sh -c "! grep -q 'ca-certificates.crt' '$W/files-tether'"
check "$G: the image without tether's module holds no tether" \
	sh -c "! grep -q 'usr/bin/tether' '$W/files-none'"
check "$G: ... and no tpm2-tss and no TPM drivers: no binding uses tpm2" \
	sh -c "! grep -Eq 'libtss2-(esys|tctildr|mu|rc|tcti-device)\.so|drivers/char/tpm/' '$W/files-tether'"

# ------------------------------------------------ a tpm2 binding (no boot)
# tether's tpm2 pin loads tpm2-tss with dlopen: a binding that uses it
# (here inside sss) brings the libraries and the TPM drivers.
start_swtpm tpm || bail "$G: swtpm starts on loopback" "$(tail -n 5 "$W/tpm.log")"
cp "$W/luks.img" "$W/tpm.img"
# shellcheck disable=SC2154
check "$G: bind a copy of the root to sss t=1 of {tpm2 (swtpm), tang}" sh -c \
	'printf %s "$1" | TPM2TOOLS_TCTI=$2 "$3" luks bind -d "$4" -k - -y sss "$5"' \
	sh "$PASS" "$tpm_TCTI" "$TETHER" "$W/tpm.img" \
	"{\"t\":1,\"pins\":{\"tpm2\":{},\"tang\":[{\"url\":\"http://10.0.2.2:$SRV_PORT\",\"adv\":\"$W/adv.json\"}]}}"
# shellcheck disable=SC2154
stop_pid "$tpm_PID"
LOOP=$(losetup -f --show "$W/tpm.img") || bail "a loop device for the tpm2 image"
loops+=("$LOOP")
build_image tpm2 tether
loop_detach "$LOOP"
lsinitrd "$W/initrd-tpm2" >"$W/files-tpm2" 2>&1
for lib in esys tctildr mu rc tcti-device; do
	check "$G: the image for a tpm2 binding holds libtss2-$lib.so.0" \
		has tpm2 "libtss2-$lib\\.so\\.0( |\$)"
done
check "$G: ... and the TPM drivers" has tpm2 'drivers/char/tpm/.*\.ko'

size() { stat -c %s "$1"; }
base=$(size "$W/initrd-none")
net=$(size "$W/initrd-net")
t_add=$(($(size "$W/initrd-tether") - base))
echo "# $G image size added by tether's module (zstd -3, same run): $((t_add / 1024)) KiB" \
	"over a $((base / 1024)) KiB image without it: $(((net - base) / 1024)) KiB of it" \
	"the network (drivers, dhclient), $(($(size "$W/initrd-tether") - net)) bytes tether itself"

# clean NAME: the root was set up once and nothing fell to the
# emergency shell. With systemd logging to the kernel's buffer, its own
# lines count (the console's status line may be hidden behind a prompt).
clean() {
	local n
	n=$(grep -c 'systemd\[1\]: Finished .*Cryptography Setup for root' "$W/$1.log")
	[ "$n" -gt 0 ] ||
		n=$(grep -c 'Finished .*Cryptography Setup for root' "$W/$1.log")
	check_eq "$G: $1: the root was set up once" 1 "$n"
	check "$G: $1: no emergency shell, no failed unit" sh -c \
		"! grep -Eq 'emergency|FAILED' '$W/$1.log'"
}

KMSG="systemd.log_target=kmsg systemd.journald.forward_to_kmsg=1 printk.devkmsg=on"
# unit_cpu NAME UNIT: the processor time systemd counted for UNIT (the
# unlocker's agent: its tries and its waiting) when it stopped, in s;
# systemd mentions no less than 1 s.
unit_cpu() {
	local t
	t=$(sed -n "s/.*systemd\[1\]: $2\.service: Consumed \([0-9.]*\)s CPU time.*/\1/p" \
		"$W/$1.log" | head -n 1)
	echo "${t:-under 1}"
}
# mounted_at NAME: the kernel's time when the root file system was
# mounted, the same measure for any unlocker.
mounted_at() {
	sed -n 's/^\[ *\([0-9.]*\)\] EXT4-fs (dm-[0-9]*): mounted.*/\1/p' "$W/$1.log" | head -n 1
}

# backoff DELAY...: the agent's delays between tries: 1 s first, then
# each double the one before up to BACKOFF_MAX, or 1 s again after the
# network changed; and they grow at least once.
BACKOFF_MAX=$(sed -n 's/^#define ASKPASS_BACKOFF_MAX \([0-9]*\)$/\1/p' \
	"$TETHER_DRACUT_MODULE/../../../src/client/askpass.h")
backoff() {
	[ -n "$BACKOFF_MAX" ] && [ $# -ge 2 ] || return 1
	printf '%s\n' "$@" | awk -v max="$BACKOFF_MAX" '
		NR == 1 && $1 != 1 { bad = 1 }
		NR > 1 && $1 != 1 && $1 != 2 * p && !($1 == max && 2 * p >= max) { bad = 1 }
		NR > 1 && $1 > p { grew = 1 }
		$1 > max { bad = 1 }
		{ p = $1 }
		END { exit bad || !grew }'
}

# ------------------------------------------------ server by IP, DHCP
# No ip=, no rd.neednet on the command line: the image asks for the
# network itself, and DHCP configures it.
boot ip "$W/ip.img" "$W/initrd-tether" "$KMSG" -nic "user,model=virtio-net-pci"
unattended ip "$G: server by IP over http, DHCP, no network parameter: unlocks with no typing" \
	"$W/srv.log"
check "$G: ip: tetherd answered the guest's recovery" grep -q 'POST /rec/.* 200' "$W/srv.log"
t=$(sed -n 's/.*tether: root unlocked.*, \([0-9.]*\) s after kernel start.*/\1/p' "$W/ip.log" | head -n 1)
echo "# $G: time from kernel start to root unlocked (server by IP, DHCP, $ACCEL): ${t:-?} s; boot wall time ${BOOT_WALL} s"
t_mounted=$(mounted_at ip)
t_cpu=$(unit_cpu ip tether-askpass)
# QEMU's user network advertises an IPv6 router as soon as the link is
# up, seconds before the DHCP lease: tether waits for dracut to finish
# the link rather than try (and fail) on the IPv6 route alone.
check "$G: ip: no try before the link was configured: the first one recovered the key" \
	sh -c "! grep -q 'no server gave a key' '$W/ip.log'"
check "$G: ip: the network is taken down before the real system starts" \
	grep -q 'tether: took .* down' "$W/ip.log"
clean ip

# ------------------------------------------------ LVM inside LUKS, two volumes
# The root volume holds an LVM volume group whose LV is the root file
# system, and a second LUKS volume in crypttab is bound too: both open
# with no typing, each once, and dracut's lvm module is in the image.
two_volumes "$G: " luks
CRYPTTAB=$W/crypttab-two build_image two tether
loop_detach "$LOOP"
loop_detach "$LOOP2"
lsinitrd "$W/initrd-two" >"$W/files-two" 2>&1
check "$G: lvm: the image holds dracut's lvm module (lvm and its udev rules)" \
	sh -c "grep -q 'sbin/lvm\$' '$W/files-two' && grep -q 'lvm.*\.rules\$' '$W/files-two'"
check "$G: lvm: ... and the crypttab with both volumes" sh -c \
	"lsinitrd -f etc/crypttab '$W/initrd-two' | grep -q '^data UUID=$DATA_UUID'"
recovered=$(grep -c 'POST /rec/.* 200' "$W/srv.log")
# systemd and the journal log to the kernel's buffer too: the console
# hides the status of a unit that finishes while a passphrase prompt is
# up, the kernel's lines are all there.
boot two "$W/lvm.img" "$W/initrd-two" "root=/dev/mapper/tvg-root $KMSG" \
	-drive "file=$W/data.img,format=raw,if=virtio" -nic "user,model=virtio-net-pci"
unattended two "$G: lvm: root on LVM inside LUKS and a data volume: both open with no typing" \
	"$W/srv.log"
check "$G: lvm: the root mounted is the LV in the opened volume (dm-1 or dm-2)" \
	grep -Eq 'EXT4-fs \(dm-[12]\): mounted' "$W/two.log"
for v in root data; do
	check_eq "$G: lvm: $v: its unit started once and finished once" "1 1" \
		"$(grep -c "systemd\[1\]: Starting systemd-cryptsetup@$v\.service" "$W/two.log") $(grep -c "systemd\[1\]: Finished systemd-cryptsetup@$v\.service" "$W/two.log")"
done
check "$G: lvm: no volume set up under a second name (luks-UUID), none opened twice, no unit failed" \
	sh -c "! grep -Eq 'systemd-cryptsetup@luks|already active|already exists|Failed with result' '$W/two.log'"
# systemd-cryptsetup keeps an answer in the kernel keyring and a request
# still pending tries it first: one volume's key may be tried on the
# other once before the agent's answer opens it.
echo "# $G: lvm: keys tried on the wrong volume from systemd's keyring cache: $(grep -c 'Failed to activate with specified passphrase' "$W/two.log")"
check "$G: lvm: tetherd answered a recovery for each volume" \
	test "$(grep -c 'POST /rec/.* 200' "$W/srv.log")" -ge $((recovered + 2))
check "$G: lvm: no emergency shell" sh -c "! grep -Eq 'emergency|FAILED' '$W/two.log'"

# ------------------------------------------------ server unreachable
DEAD_PORT=$(free_port)
cp "$W/luks.img" "$W/dead.img"
check "$G: bind to a server that will not be there" \
	bind "$W/dead.img" "{\"url\":\"http://10.0.2.2:$DEAD_PORT\",\"adv\":\"$W/adv.json\"}"
boot dead-after "$W/dead.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console dead-after 'tether: root: no server gave a key'
wait_console dead-after 'Please enter passphrase'
# While the network comes up every change starts the delays over at 1 s;
# once it is settled they grow. Wait for that (bounded by the guest's
# lifetime).
wait_console dead-after 'next try in ([4-9]|[1-9][0-9]+) s'
check "$G: unreachable: tether says so and retries" grep -q 'next try in' "$W/dead-after.log"
delays=$(grep -o 'next try in [0-9]* s' "$W/dead-after.log" | awk '{ print $4 }' | tr '\n' ' ')
echo "# $G: unreachable: delays between tries: $delays(s)"
check "$G: unreachable: the delay between tries starts at 1 s and doubles (from 1 s again when the network changes), up to $BACKOFF_MAX s" \
	backoff $delays
check "$G: unreachable: ... and the root is not open yet" sh -c "! grep -q '$MARKER' '$W/dead-after.log'"
typed_boot dead-after "$G: unreachable: the passphrase typed after the unlock attempts boots it"
clean dead-after

# A .local name nobody answers (QEMU's user network carries no mDNS):
# the prompt is up all the same.
cp "$W/luks.img" "$W/nobody.img"
check "$G: bind to http://tether-nobody.local, a name nobody answers" \
	bind "$W/nobody.img" "{\"url\":\"http://tether-nobody.local:$DEAD_PORT\",\"adv\":\"$W/adv.json\"}"
boot dead-before "$W/nobody.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console dead-before 'Please enter passphrase'
typed_boot dead-before "$G: unreachable (.local nobody answers): the passphrase typed at once, before the attempts, boots it"
clean dead-before

# ------------------------------------------------ https, credentials
tls_tetherd guest4 guest6 || bail "$G: tetherd serves https with client credentials"
cp "$W/luks.img" "$W/https.img"
check "$G: bind over https with the CA in the binding and a client credential" \
	bind "$W/https.img" "{\"url\":\"https://guest4:${TOKEN[guest4]}@10.0.2.2:$TLS_PORT\",\"adv\":\"$W/adv.json\",\"ca\":$CA_JSON}"
boot https "$W/https.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
unattended https "$G: https, trust anchor in the binding, client credential: unlocks with no typing" \
	"$W/tls.log"
check "$G: https: tetherd logged the guest's recovery as client guest4" \
	grep -q 'POST /rec/.* 200 .*client guest4' "$W/tls.log"
clean https

# ------------------------------------------------ a disabled client
cp "$W/luks.img" "$W/disabled.img"
check "$G: bind over https with a key pin and guest6's credential" \
	bind "$W/disabled.img" "{\"url\":\"https://guest6:${TOKEN[guest6]}@10.0.2.2:$TLS_PORT\",\"adv\":\"$W/adv.json\",\"pin\":\"$PIN\"}"
check "$G: tetherd clients disable guest6" \
	"$TETHERD" clients disable guest6 --clients "$CLIENTS"
boot disabled "$W/disabled.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
# The first try may come before the link is ready: wait for tetherd's
# answer itself.
wait_console disabled 'answered HTTP 403'
check "$G: disabled: tetherd refused the disabled client (403)" \
	grep -q 'POST /rec/.* 403' "$W/tls.log"
check "$G: disabled: ... so the root is not unlocked" sh -c "! grep -q '$MARKER' '$W/disabled.log'"
typed_boot disabled "$G: disabled: the passphrase prompt still works and boots it"
clean disabled

# ------------------------------------------------ a link of the test's own
link_ns || bail "$G: a namespace with a tap device, dnsmasq and tetherd"
ok "$G: a namespace with a tap device, dnsmasq and tetherd"

# ------------------------------------------------ DNS name from DHCP
cp "$W/luks.img" "$W/dns.img"
check "$G: bind to http://keys (a short name: the search domain comes by DHCP)" \
	bind "$W/dns.img" "{\"url\":\"http://keys:$NS_PORT\",\"adv\":\"$W/adv.json\"}"
NETNS=$NS boot dns "$W/dns.img" "$W/initrd-tether" "" "${TAP[@]}"
unattended dns "$G: server by DNS name, DNS learned by DHCP: unlocks with no typing" \
	"$W/dnsmasq.log"
check "$G: dns: the guest asked dnsmasq for keys.boot.test" \
	grep -q 'query\[A\] keys.boot.test' "$W/dnsmasq.log"
check "$G: dns: tetherd in the namespace answered the recovery" \
	grep -q 'POST /rec/.* 200' "$W/ns.log"
clean dns

# ------------------------------------------------ .local over mDNS
mdns_responder tetherd-boot.local ||
	bail "$G: an mDNS responder on the guest's link" "$(tail -n 5 "$W/mdns.log")"
cp "$W/luks.img" "$W/mdns.img"
check "$G: bind to http://tetherd-boot.local" \
	bind "$W/mdns.img" "{\"url\":\"http://tetherd-boot.local:$NS_PORT\",\"adv\":\"$W/adv.json\"}"
NETNS=$NS boot mdns "$W/mdns.img" "$W/initrd-tether" "" "${TAP[@]}"
unattended mdns "$G: server by .local name, answered over mDNS on the link: unlocks with no typing" \
	"$W/mdns.log"
check "$G: mdns: the responder saw the guest's question for tetherd-boot.local" \
	grep -q 'name=tetherd-boot.local' "$W/mdns.queries"
check "$G: mdns: ... and dnsmasq was never asked for it" \
	sh -c "! grep -q 'tetherd-boot' '$W/dnsmasq.log'"
clean mdns

# ------------------------------------------------ IPv6, the network kept
# The link gives an IPv4 lease by DHCP and IPv6 addresses by router
# advertisements; the server is bound by its IPv6 address alone, and
# tether.keep-network leaves both for the real system.
cp "$W/luks.img" "$W/v6.img"
check "$G: bind to http://[$NS_ADDR6] (an IPv6 address)" \
	bind "$W/v6.img" "{\"url\":\"http://[$NS_ADDR6]:$NS_PORT\",\"adv\":\"$W/adv.json\"}"
NETNS=$NS boot v6 "$W/v6.img" "$W/initrd-tether" "tether.keep-network" "${TAP[@]}"
unattended v6 "$G: server by IPv6 address (SLAAC from router advertisements): unlocks with no typing" \
	"$W/ns.log"
check "$G: v6: tetherd in the namespace answered a recovery from an fd77:: address" \
	grep -q '^\[fd77:.* POST /rec/.* 200' "$W/ns.log"
check "$G: v6: tether.keep-network on the command line: the network was not taken down" \
	sh -c "! grep -q 'tether: took .* down' '$W/v6.log'"
check "$G: v6: ... the real system starts with the IPv4 lease on ens3" \
	grep -Eq 'init address: .*ens3 +inet 10\.77\.0\.[0-9]+/24' "$W/v6.log"
check "$G: v6: ... and the IPv6 address from the advertisements" \
	grep -Eq 'init address: .*ens3 +inet6 fd77:' "$W/v6.log"
clean v6
check "$G: ip: the network taken down, the real system starts with no address on ens3" \
	sh -c "! grep -q 'init address: .*ens3' '$W/ip.log'"

# ------------------------------------------------ figures: Debian's clevis-dracut
# clevis-dracut 19 and clevis-systemd (its password agent and units),
# downloaded once into $BOOT_CACHE and unpacked here; the clevis programs
# are the host's (clevis, clevis-luks). Its modules go into a modules
# tree of their own, and its agent and units are lent over the host's
# directories (read-only overlays) inside the private mount namespace
# dracut runs in: a dracut of the same name first on PATH mounts them.
CACHE=${BOOT_CACHE:-$W/cache}
clevis_debs() {
	local p v
	mkdir -p "$CACHE" "$W/clevis-root" || return 1
	for p in clevis-dracut clevis-systemd; do
		if ! ls "$CACHE/${p}_19"*.deb >/dev/null 2>&1; then
			v=$(apt-cache policy "$p" | sed -n 's/^ *Candidate: \(19-.*\)/\1/p')
			[ -n "$v" ] || return 1
			(cd "$CACHE" && apt-get download "$p=$v") >>"$W/apt.log" 2>&1 ||
				return 1
		fi
		dpkg-deb -x "$(ls "$CACHE/${p}_19"*.deb | head -n 1)" "$W/clevis-root" ||
			return 1
	done
}
clevis_debs || bail "$G: clevis-dracut 19 and clevis-systemd downloaded and unpacked" \
	"$(tail -n 5 "$W/apt.log" 2>/dev/null)"
ok "$G: clevis-dracut 19 and clevis-systemd downloaded and unpacked"
dracut_tree "$W/modules-clevis" clevis
cp -a "$W/clevis-root/usr/lib/dracut/modules.d/"[0-9][0-9]clevis* "$W/modules-clevis/"
mkdir -p "$W/clevis-path"
cat >"$W/clevis-path/dracut" <<EOF
#!/bin/sh
set -e
mount -t overlay overlay -o "lowerdir=$W/clevis-root/lib/systemd/system:/usr/lib/systemd/system" /usr/lib/systemd/system
mount -t overlay overlay -o "lowerdir=$W/clevis-root/usr/libexec:/usr/libexec" /usr/libexec
exec $(command -v dracut) "\$@"
EOF
chmod 755 "$W/clevis-path/dracut"

cp "$W/luks.img" "$W/clevis.img"
LOOP=$(losetup -f --show "$W/clevis.img") || bail "a loop device for the clevis image"
loops+=("$LOOP")
check "$G: clevis luks bind a copy of the root to the same tetherd" sh -c \
	'printf %s "$1" | clevis luks bind -d "$2" -k - -y tang "$3"' sh "$PASS" "$LOOP" \
	"{\"url\":\"http://10.0.2.2:$SRV_PORT\",\"adv\":\"$W/adv.json\"}"
# As Debian builds it with clevis-dracut installed: every module whose
# check passes.
PATH=$W/clevis-path:$PATH build_image clevis clevis
loop_detach "$LOOP"
lsinitrd "$W/initrd-clevis" >"$W/files-clevis" 2>&1
check "$G: clevis: the image holds clevis's agent and unit (the comparison is real)" sh -c \
	"grep -q 'clevis-luks-askpass\.path\$' '$W/files-clevis' &&
		grep -q 'bin/clevis-decrypt-tang\$' '$W/files-clevis'"
c_add=$(($(size "$W/initrd-clevis") - base))

# clevis_boot NAME APPEND SECONDS: a boot of the clevis image bounded in
# time; systemd logs to the kernel's buffer, so its lines carry the
# kernel's time. Sets UNLOCKED (yes/no) and T_UNLOCKED.
clevis_boot() {
	BOOT_TIMEOUT=$3 boot "$1" "$W/clevis.img" "$W/initrd-clevis" \
		"$2 $KMSG" -nic "user,model=virtio-net-pci"
	wait_console "$1" "$MARKER"
	boot_end
	T_UNLOCKED=$(sed -n 's/^\[ *\([0-9.]*\)\] systemd\[1\]: Finished .*Cryptography Setup for root.*/\1/p' \
		"$W/$1.log" | head -n 1)
	UNLOCKED=no
	grep -q "$MARKER" "$W/$1.log" && UNLOCKED=yes
}
# tether's image boots again beside clevis's: the two guests start
# together and share whatever else loads the machine, so that their times
# compare. Its console's writer is kept open on fd 8 while clevis's boot
# takes fd 7.
boot race "$W/ip.img" "$W/initrd-tether" "$KMSG" -nic "user,model=virtio-net-pci"
RACE_PID=$BOOT_PID
exec 8>&7
clevis_boot clevis-dhcp "ip=dhcp rd.neednet=1" 180
check "$G: clevis: the image boots into its initramfs (the figures below are of a real boot)" \
	grep -q 'Reached target .*Initrd' "$W/clevis-dhcp.log"
C_MOUNTED=$(mounted_at clevis-dhcp)
BOOT_PID=$RACE_PID
wait_console race "$MARKER"
wait "$RACE_PID" 2>/dev/null
exec 8>&-
check "$G: race: tether's image, booted beside clevis's, unlocks with no typing" \
	sh -c "grep -q '$MARKER' '$W/race.log' && grep -q 'tether: root unlocked' '$W/race.log'"
t_race=$(mounted_at race)
t_race_cpu=$(unit_cpu race tether-askpass)
C_CPU=$(unit_cpu clevis-dhcp clevis-luks-askpass)
echo "# clevis-dracut (Debian's 19, $ACCEL), ip=dhcp rd.neednet=1: unlocked: $UNLOCKED;" \
	"root unlocked ${T_UNLOCKED:-never} s, mounted ${C_MOUNTED:-never} s after kernel start" \
	"(boot bounded at 180 s; wall ${BOOT_WALL} s)"
clevis_boot clevis-noip "" 120
echo "# clevis-dracut, no ip= at all: unlocked: $UNLOCKED (boot bounded at 120 s, wall ${BOOT_WALL} s)"
echo "# side by side (same kernel, root, server and run, the two guests booted at once; the kernel's time of the root's mount):" \
	"tether ${t_race:-never} s with no kernel parameter," \
	"clevis-dracut ${C_MOUNTED:-never} s with ip=dhcp rd.neednet=1;" \
	"processor time of the unlocking agent: tether-askpass ${t_race_cpu} s, clevis-luks-askpass ${C_CPU} s" \
	"(tether's first boot, alone: mounted ${t_mounted:-never} s, agent ${t_cpu} s);" \
	"image size added: tether $((t_add / 1024)) KiB, clevis-dracut $((c_add / 1024)) KiB"

done_testing

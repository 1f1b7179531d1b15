#!/usr/bin/env bash
# tether unlocking a LUKS2 root at boot with dracut's systemd initramfs:
# Debian's kernel under QEMU, an image built by Debian's dracut with
# tether's module (lent in a private mount namespace), and tetherd on the
# host. systemd-cryptsetup asks for the passphrase through the
# ask-password protocol; tether's agent answers it with the key its
# binding recovers, and the console still takes a typed one. Each TAP
# line names the generator (dracut).
. "$(dirname "$0")/lib.sh"
: "${TETHER_DRACUT_MODULE:?TETHER_DRACUT_MODULE must name dracut/modules.d/91tether}"
: "${TETHER_DRACUT_MODULE_SETUP:?TETHER_DRACUT_MODULE_SETUP must name the built module-setup.sh}"
G=dracut

for tool in qemu-system-x86_64 dracut lsinitrd cryptsetup mkfs.ext4 \
	losetup unshare dhclient; do
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
build_image() { # NAME MODULES [DRACUT ARGS...]
	local name=$1 modules=$2
	shift 2
	mkdracut "$W/modules-$modules" "$W/crypttab" "$W/initrd-$name" "$@" \
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

size() { stat -c %s "$1"; }
base=$(size "$W/initrd-none")
net=$(size "$W/initrd-net")
t_add=$(($(size "$W/initrd-tether") - base))
echo "# $G image size added by tether's module (zstd -3, same run): $((t_add / 1024)) KiB" \
	"over a $((base / 1024)) KiB image without it: $(((net - base) / 1024)) KiB of it" \
	"the network (drivers, dhclient), $(($(size "$W/initrd-tether") - net)) bytes tether itself"

# clean NAME: the root was set up once and nothing fell to the
# emergency shell.
clean() {
	check_eq "$G: $1: the root was set up once" 1 \
		"$(grep -c 'Finished .*Cryptography Setup for root' "$W/$1.log")"
	check "$G: $1: no emergency shell, no failed unit" sh -c \
		"! grep -Eq 'emergency|FAILED' '$W/$1.log'"
}

# ------------------------------------------------ server by IP, DHCP
# No ip=, no rd.neednet on the command line: the image asks for the
# network itself, and DHCP configures it.
boot ip "$W/ip.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
unattended ip "$G: server by IP over http, DHCP, no network parameter: unlocks with no typing" \
	"$W/srv.log"
check "$G: ip: tetherd answered the guest's recovery" grep -q 'POST /rec/.* 200' "$W/srv.log"
t=$(sed -n 's/.*tether: root unlocked.*, \([0-9.]*\) s after kernel start.*/\1/p' "$W/ip.log" | head -n 1)
echo "# $G: time from kernel start to root unlocked (server by IP, DHCP, $ACCEL): ${t:-?} s; boot wall time ${BOOT_WALL} s"
check "$G: ip: the network is taken down before the real system starts" \
	grep -q 'tether: took .* down' "$W/ip.log"
clean ip

# ------------------------------------------------ server unreachable
DEAD_PORT=$(free_port)
cp "$W/luks.img" "$W/dead.img"
check "$G: bind to a server that will not be there" \
	bind "$W/dead.img" "{\"url\":\"http://10.0.2.2:$DEAD_PORT\",\"adv\":\"$W/adv.json\"}"
boot dead-after "$W/dead.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console dead-after 'tether: root: no server gave a key'
wait_console dead-after 'Please enter passphrase'
check "$G: unreachable: tether says so and retries" grep -q 'next try in' "$W/dead-after.log"
check "$G: unreachable: ... and the root is not open yet" sh -c "! grep -q '$MARKER' '$W/dead-after.log'"
typed_boot dead-after "$G: unreachable: the passphrase typed after the unlock attempts boots it"
clean dead-after

boot dead-before "$W/dead.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console dead-before 'Please enter passphrase'
typed_boot dead-before "$G: unreachable: the passphrase typed at once, before the attempts, boots it"
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

done_testing

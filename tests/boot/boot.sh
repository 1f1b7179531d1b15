#!/usr/bin/env bash
# tether unlocking a LUKS2 root at boot with initramfs-tools: Debian's
# kernel under QEMU, an initramfs built by mkinitramfs with tether's hook,
# and tetherd on the host (swtpm as the guest's TPM for a tpm2 binding).
# The guest's /sbin/init prints a marker and powers off; each case
# asserts the marker, or its absence until the passphrase is typed on the
# serial console.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../interop/swtpm-lib.sh"

for tool in qemu-system-x86_64 mkinitramfs unmkinitramfs cryptsetup \
	mkfs.ext4 losetup unshare swtpm; do
	command -v "$tool" >/dev/null || bail "$tool is installed"
done
[ -r "$VMLINUZ" ] || bail "a Debian kernel in /boot (linux-image-amd64)"
ok "kernel $KVER, accelerators: $(accel_args | grep -v -- -accel | tr '\n' ' ')"

# ------------------------------------------------ images and initramfs
luks_image "$W/luks.img" || bail "a LUKS2 root image made in place on a file"
ok "a LUKS2 root image made in place on a file (no device-mapper)"
UUID=$(cryptsetup luksUUID "$W/luks.img")

mkdir -m 0700 "$W/keys"
start_tetherd srv "$W/keys" || bail "tetherd starts"
SRV_PORT=$PORT
curl -sf "$URL/adv" >"$W/adv.json"

cp "$W/luks.img" "$W/case1.img"
check "bind the root to http://10.0.2.2 (the host as QEMU's user network shows it)" \
	bind "$W/case1.img" "{\"url\":\"http://10.0.2.2:$SRV_PORT\",\"adv\":\"$W/adv.json\"}"

# The hook reads the bindings of the volumes it will open at build time:
# lend it the image through a loop device.
LOOP=$(losetup -f --show "$W/case1.img") || bail "a loop device for the image"
loops+=("$LOOP")
printf 'root UUID=%s none luks,initramfs\n' "$UUID" >"$W/crypttab"
conf_dir "$W/conf"
for v in tether clevis none both; do
	share_tree "$W/share-$v" "$v"
done
for v in tether clevis none both; do
	mkinitrd "$W/share-$v" "$W/conf" "$W/crypttab" "$W/initrd-$v" \
		>"$W/mkinitramfs-$v.log" 2>&1 ||
		bail "mkinitramfs ($v)" "$(tail -n 20 "$W/mkinitramfs-$v.log")"
done
ok "mkinitramfs builds images with tether's hook, with clevis's, with both, and with neither"
loop_detach "$LOOP"

initrd_files "$W/initrd-tether" >"$W/files-tether"
initrd_files "$W/initrd-clevis" >"$W/files-clevis"
has() { grep -Eq -- "$2" "$W/files-$1"; }
check "the tether image holds tether" has tether '^usr/bin/tether$'
check "... and the token plugin" has tether 'cryptsetup/libcryptsetup-token-clevis\.so$'
check "... and its boot scripts" has tether '^scripts/local-top/tether$'
check "... and no clevis, curl, bash or jose" sh -c "! grep -Eq '(clevis$|bin/curl$|bin/bash$|bin/jose$)' '$W/files-tether'"
check "... and no CA bundle: the binding is plain http" sh -c "! grep -q 'ca-certificates.crt' '$W/files-tether'"
check "the clevis image holds clevis's scripts (the comparison is real)" has clevis '^scripts/local-top/clevis$'
initrd_files "$W/initrd-both" >"$W/files-both"
check "the image with both holds clevis's boot scripts and tether's" sh -c \
	"grep -qx 'scripts/local-top/clevis' '$W/files-both' && grep -qx 'scripts/local-top/tether' '$W/files-both'"

size() { stat -c %s "$1"; }
base=$(size "$W/initrd-none")
t_add=$(( $(size "$W/initrd-tether") - base ))
c_add=$(( $(size "$W/initrd-clevis") - base ))
echo "# initramfs size added (zstd, same run): tether $((t_add / 1024)) KiB," \
	"clevis-initramfs $((c_add / 1024)) KiB, ratio $(awk -v t="$t_add" -v c="$c_add" 'BEGIN { printf "%.2f", t / c }')" \
	"(target below 0.5), over a $((base / 1024)) KiB image with neither"

# Case 1 learns its address by DHCP (no ip= at all); the others on QEMU's
# user network set it with ip=, which also spares a DHCP exchange.
APPEND_STATIC="ip=10.0.2.15::10.0.2.2:255.255.255.0::ens3:off"
# ------------------------------------------------ case 1
boot case1 "$W/case1.img" "$W/initrd-tether" "" \
	-nic "user,model=virtio-net-pci"
wait_console case1 "$MARKER"
boot_end
if grep -q "$MARKER" "$W/case1.log"; then
	ok "case 1: server by IP over http: the root unlocks with no typing (${BOOT_WALL} s)"
else
	not_ok "case 1: server by IP over http: the root unlocks with no typing" "$(console_tail case1)"
fi
check "case 1: tether says it unlocked the root" grep -Eq 'tether: root unlocked' "$W/case1.log"
check "case 1: tetherd answered the guest's recovery" grep -q 'POST /rec/.* 200' "$TEST_DIR/srv.log"
t=$(sed -n 's/.*tether: root unlocked.*, \([0-9.]*\) s after kernel start.*/\1/p' "$W/case1.log" | head -n 1)
echo "# time from kernel start to root unlocked (case 1, $ACCEL): ${t:-?} s; boot wall time ${BOOT_WALL} s"


# clean NAME: what every boot must show: the scripts printed no shell
# error, and cryptroot set the root up exactly once.
clean() {
	check "$1: tether's boot scripts printed no shell error" sh -c \
		"! grep -E '(local-top|local-bottom)/tether: ' '$W/$1.log'"
	check_eq "$1: the root was set up once" 1 \
		"$(grep -c 'cryptsetup: root: set up successfully' "$W/$1.log")"
}
clean case1

# ------------------------------------------------ case 4: https
tls_tetherd guest4 guest6 || bail "tetherd serves https with client credentials"
TOK4=${TOKEN[guest4]}
TOK6=${TOKEN[guest6]}
cp "$W/luks.img" "$W/case4.img"
check "bind over https with the CA in the binding and a client credential" \
	bind "$W/case4.img" "{\"url\":\"https://guest4:$TOK4@10.0.2.2:$TLS_PORT\",\"adv\":\"$W/adv.json\",\"ca\":$CA_JSON}"
boot case4 "$W/case4.img" "$W/initrd-tether" "$APPEND_STATIC tether.keep-network" -nic "user,model=virtio-net-pci"
unattended case4 "case 4: https, trust anchor in the binding, client credential: unlocks with no typing"
check "case 4: tetherd logged the guest's recovery as client guest4" \
	grep -q 'POST /rec/.* 200 .*client guest4' "$W/tls.log"
check "case 4: tether.keep-network on the command line keeps the network up" \
	sh -c "! grep -q 'tether: took .* down' '$W/case4.log'"
clean case4

# ------------------------------------------------ case 5: server unreachable
DEAD_PORT=$(free_port)
cp "$W/luks.img" "$W/case5.img"
check "bind to a server that will not be there" \
	bind "$W/case5.img" "{\"url\":\"http://10.0.2.2:$DEAD_PORT\",\"adv\":\"$W/adv.json\"}"
boot case5a "$W/case5.img" "$W/initrd-tether" "$APPEND_STATIC" -nic "user,model=virtio-net-pci"
wait_console case5a 'tether: root: no server gave a key'
check "case 5: with no server, tether says so and retries" \
	grep -q 'next try in' "$W/case5a.log"
check "case 5: ... and the root is not open yet" sh -c "! grep -q '$MARKER' '$W/case5a.log'"
typed_boot case5a "case 5: the passphrase typed after the unlock attempts boots it"
clean case5a

boot case5b "$W/case5.img" "$W/initrd-tether" "$APPEND_STATIC" -nic "user,model=virtio-net-pci"
wait_console case5b 'Please unlock disk root'
typed_boot case5b "case 5: the passphrase typed at once, before the attempts, boots it"
clean case5b

# ------------------------------------------------ case 7: tpm2 and tang
# sss of {tpm2, tang} with the tang server unreachable: at t=1 the TPM
# alone unlocks the root; at t=2 it does not, and the passphrase still
# boots it. The TPM is swtpm with one state directory, on loopback TCP
# while the images are bound and as the guest's TPM (QEMU's TIS) at
# boot: the same seeds, so the same primary key unseals. No PCR policy:
# the firmware extends the PCRs at every boot.
start_swtpm tpm || bail "swtpm starts on loopback" "$(tail -n 5 "$W/tpm.log")"
TPM_DIR=$W/tpm
sss_tpm2_tang() { # T: the sss configuration, the tang server unreachable
	printf '{"t":%d,"pins":{"tpm2":{},"tang":[{"url":"http://10.0.2.2:%s","adv":"%s"}]}}' \
		"$1" "$DEAD_PORT" "$W/adv.json"
}
# start_swtpm set tpm_TCTI and tpm_PID.
# shellcheck disable=SC2154
bind_sss() { # IMAGE CONFIG
	printf %s "$PASS" | TPM2TOOLS_TCTI=$tpm_TCTI \
		"$TETHER" luks bind -d "$1" -k - -y sss "$2"
}
cp "$W/luks.img" "$W/tpm-t1.img"
cp "$W/luks.img" "$W/tpm-t2.img"
check "bind a root to sss t=1 of {tpm2 (swtpm), tang at a port nobody serves}" \
	bind_sss "$W/tpm-t1.img" "$(sss_tpm2_tang 1)"
check "bind another to the same with t=2" \
	bind_sss "$W/tpm-t2.img" "$(sss_tpm2_tang 2)"
# shellcheck disable=SC2154
stop_pid "$tpm_PID"

# A tpm2 binding brings tpm2-tss into the image: an image of its own.
LOOP=$(losetup -f --show "$W/tpm-t1.img") || bail "a loop device for the tpm2 image"
loops+=("$LOOP")
mkinitrd "$W/share-tether" "$W/conf" "$W/crypttab" "$W/initrd-tpm2" \
	>"$W/mkinitramfs-tpm2.log" 2>&1 ||
	bail "mkinitramfs for a tpm2 binding" "$(tail -n 20 "$W/mkinitramfs-tpm2.log")"
loop_detach "$LOOP"
initrd_files "$W/initrd-tpm2" >"$W/files-tpm2"
check "the image for a tpm2 binding holds tpm2-tss's loader and the device TCTI" \
	sh -c "grep -q 'libtss2-tctildr\.so\.0$' '$W/files-tpm2' &&
		grep -q 'libtss2-tcti-device\.so\.0$' '$W/files-tpm2'"

# tpm_boot NAME IMAGE: boot with swtpm on the state directory as the
# guest's TPM; swtpm ends when QEMU does.
GUEST_TPM_PID=
tpm_boot() {
	local sock=$TPM_DIR/ctrl.sock
	# One swtpm at a time on the state directory.
	[ -z "$GUEST_TPM_PID" ] || stop_pid "$GUEST_TPM_PID"
	rm -f "$sock"
	swtpm socket --tpm2 --tpmstate "dir=$TPM_DIR" --terminate \
		--ctrl "type=unixio,path=$sock" >>"$W/$1-swtpm.log" 2>&1 &
	GUEST_TPM_PID=$!
	boot_pids+=("$GUEST_TPM_PID")
	wait_for "swtpm's socket" test -S "$sock" ||
		bail "swtpm serves the guest's TPM" "$(tail -n 5 "$W/$1-swtpm.log")"
	boot "$1" "$2" "$W/initrd-tpm2" "$APPEND_STATIC" \
		-nic "user,model=virtio-net-pci" \
		-chardev "socket,id=chrtpm,path=$sock" \
		-tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0
}

tpm_boot tpm1 "$W/tpm-t1.img"
unattended tpm1 "case 7: sss t=1 of {tpm2, tang}, tang unreachable: the guest's TPM unlocks the root with no typing" \
	"$W/tpm1-swtpm.log"
check "case 7: the guest's kernel found a TPM 2.0 (QEMU's TIS)" \
	grep -Eq 'tpm_tis .*2\.0 TPM' "$W/tpm1.log"
check "case 7: ... tang was unreachable (the guest's connection refused): the key came from the TPM's share" \
	grep -q "connect failed (10.0.2.2:$DEAD_PORT): Connection refused" "$W/tpm1.log"
clean tpm1

tpm_boot tpm2 "$W/tpm-t2.img"
wait_console tpm2 'tether: root: no server gave a key'
check "case 7: sss t=2 of {tpm2, tang}, tang unreachable: the root is not unlocked" \
	sh -c "! grep -q '$MARKER' '$W/tpm2.log'"
check "case 7: ... the TPM gave its share in the guest, the threshold wants both" \
	grep -q 'sss: 1 of 2 shares recovered, 2 needed' "$W/tpm2.log"
typed_boot tpm2 "case 7: ... and the passphrase typed on the console boots it"
clean tpm2

# ------------------------------------------------ beside clevis-initramfs
# Both packages installed: both hooks fill the image and both local-top
# scripts run. Two unlockers would answer one prompt through one fifo,
# each bringing the network up; tether's local-top runs after clevis's
# and stops its unlocker, so tether alone unlocks and releases the
# network. The boots reuse case 1's image (server up) and case 5's
# (server unreachable).
recs_before=$(grep -c 'POST /rec/' "$TEST_DIR/srv.log")
boot both1 "$W/case1.img" "$W/initrd-both" "" -nic "user,model=virtio-net-pci"
unattended both1 "beside clevis-initramfs, server up: the root unlocks with no typing"
check "... tether says it stopped clevis-initramfs's unlocker" \
	grep -q "tether: clevis-initramfs's unlocker stopped" "$W/both1.log"
check "... and clevis unlocked nothing" sh -c "! grep -q 'with clevis' '$W/both1.log'"
check_eq "... tetherd answered exactly one recovery" 1 \
	"$(($(grep -c 'POST /rec/' "$TEST_DIR/srv.log") - recs_before))"
check "... cryptsetup reported no error" sh -c \
	"! grep -Eq 'cryptsetup: ERROR|already exists' '$W/both1.log'"
check_eq "... one script brought the network up (configure_networking ran once)" 1 \
	"$(grep -c 'Waiting up to [0-9]* secs for' "$W/both1.log")"
check_eq "... with one DHCP exchange" 1 \
	"$(grep -c 'IP-Config: .* complete' "$W/both1.log")"
check_eq "... and taken down once, by tether" 1 \
	"$(grep -c 'tether: took .* down' "$W/both1.log")"
check "... so the real system starts with no address on ens3" \
	sh -c "! grep -q 'init address: .*ens3' '$W/both1.log'"
clean both1

boot both5 "$W/case5.img" "$W/initrd-both" "$APPEND_STATIC tether.keep-network" \
	-nic "user,model=virtio-net-pci"
wait_console both5 'tether: root: no server gave a key'
check "beside clevis-initramfs, server unreachable: the root is not open yet" \
	sh -c "! grep -q '$MARKER' '$W/both5.log'"
typed_boot both5 "... the passphrase typed on the console boots it"
check "... tether had stopped clevis-initramfs's unlocker" \
	grep -q "tether: clevis-initramfs's unlocker stopped" "$W/both5.log"
check "... and tether.keep-network kept ens3's address for the real system" \
	grep -q 'init address: .*ens3 *inet 10\.0\.2\.15/' "$W/both5.log"
clean both5

# ------------------------------------------------ case 6: client disabled
cp "$W/luks.img" "$W/case6.img"
check "bind over https with a key pin and guest6's credential" \
	bind "$W/case6.img" "{\"url\":\"https://guest6:$TOK6@10.0.2.2:$TLS_PORT\",\"adv\":\"$W/adv.json\",\"pin\":\"$PIN\"}"
check "tetherd clients disable guest6" "$TETHERD" clients disable guest6 --clients "$CLIENTS"
boot case6 "$W/case6.img" "$W/initrd-tether" "$APPEND_STATIC" -nic "user,model=virtio-net-pci"
wait_console case6 'tether: root: no server gave a key'
check "case 6: tetherd refused the disabled client (403)" \
	grep -q 'POST /rec/.* 403' "$W/tls.log"
check "case 6: ... so the root is not unlocked" sh -c "! grep -q '$MARKER' '$W/case6.log'"
typed_boot case6 "case 6: the passphrase prompt still works and boots it"
clean case6

# ------------------------------------------------ case 8: approval
# A client that needs an operator's approval: tetherd holds its recovery
# (503 with Retry-After) and tether's boot scripts retry, backing off;
# approved once, the next try unlocks the root with nothing typed. A
# tetherd of its own, with the clients in a directory the service user
# can write to: it keeps the held requests and the approvals beside them.
service_dir "$W/approval" || bail "a state directory for the approving tetherd"
CLIENTS8=$W/approval/clients
TOK8=$("$TETHERD" clients add guest8 --approval manual --clients "$CLIENTS8") ||
	bail "tetherd clients add guest8 --approval manual"
PORT8=$(free_port)
"$TETHERD" serve --keys "$W/keys" --clients "$CLIENTS8" \
	--listen "https://127.0.0.1:$PORT8" --tls-cert "$W/pki/srv.pem" \
	--tls-key "$W/pki/srv.key" >>"$W/approval.log" 2>&1 &
test_pids+=("$!")
wait_for "the approving tetherd" curl -sf --cacert "$W/pki/ca.pem" \
	-u "guest8:$TOK8" -o /dev/null "https://127.0.0.1:$PORT8/adv" ||
	bail "the approving tetherd serves https" "$(tail -n 5 "$W/approval.log")"
cp "$W/luks.img" "$W/case8.img"
check "bind over https with the CA in the binding and guest8's credential" \
	bind "$W/case8.img" "{\"url\":\"https://guest8:$TOK8@10.0.2.2:$PORT8\",\"adv\":\"$W/adv.json\",\"ca\":$CA_JSON}"
boot case8 "$W/case8.img" "$W/initrd-tether" "$APPEND_STATIC" -nic "user,model=virtio-net-pci"
# held8: tetherd lists guest8's recovery as pending, the audit has it,
# and the console shows tether retrying.
held8() {
	"$TETHERD" approvals list --clients "$CLIENTS8" |
		grep -q '^guest8 pending address .* kid ' &&
		grep -q '"event":"pending".*"client":"guest8".*"outcome":"pending","status":503' "$W/approval.log" &&
		grep -q 'tether: root: no server gave a key; next try in' "$W/case8.log"
}
# Bounded by the guest's own timeout, as wait_console is.
while ! held8 && kill -0 "$BOOT_PID" 2>/dev/null; do
	sleep 0.5
done
check "case 8: tetherd lists guest8's recovery as pending (approvals list)" \
	sh -c "'$TETHERD' approvals list --clients '$CLIENTS8' | grep -q '^guest8 pending address '"
check "case 8: ... the audit records it pending (503, approval pending)" \
	grep -q '"event":"pending".*"client":"guest8".*"reason":"approval pending"' "$W/approval.log"
check "case 8: ... the console shows tether retrying" \
	grep -q 'tether: root: no server gave a key; next try in' "$W/case8.log"
check "case 8: ... and the root is not unlocked" sh -c "! grep -q '$MARKER' '$W/case8.log'"
check_eq "case 8: ... no recovery of guest8's was answered with a key" 0 \
	"$(grep -c 'POST /rec/.* 200 .*client guest8' "$W/approval.log")"
tries8=$(grep -c 'tether: root: no server gave a key' "$W/case8.log")
check "tetherd approve guest8 --once" "$TETHERD" approve guest8 --once --clients "$CLIENTS8"
approved8=$(date +%s.%N)
unattended case8 "case 8: approved once, the next try unlocks the root with no typing"
echo "# case 8: $tries8 tries held before the approval; boot ended" \
	"$(awk -v a="$approved8" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s after it"
check "case 8: tetherd answered guest8's recovery with a key" \
	grep -q 'POST /rec/.* 200 .*client guest8' "$W/approval.log"
check "case 8: ... which used the approval up" sh -c \
	"! '$TETHERD' approvals list --clients '$CLIENTS8' | grep -q '^guest8 '"
clean case8

# ------------------------------------------------ LVM inside LUKS, two volumes
# cryptroot opens every crypttab entry marked initramfs, and LVM inside
# them: tether answers each prompt, here for a root volume holding an
# LVM volume group (the root file system is its LV) and a data volume.
two_volumes "" luks,initramfs
mkinitrd "$W/share-tether" "$W/conf" "$W/crypttab-two" "$W/initrd-two" \
	>"$W/mkinitramfs-two.log" 2>&1 ||
	bail "mkinitramfs with two volumes" "$(tail -n 20 "$W/mkinitramfs-two.log")"
loop_detach "$LOOP"
loop_detach "$LOOP2"
ok "mkinitramfs with the root and a data volume in crypttab"
boot two "$W/lvm.img" "$W/initrd-two" "$APPEND_STATIC root=/dev/mapper/tvg-root" \
	-drive "file=$W/data.img,format=raw,if=virtio" -nic "user,model=virtio-net-pci"
wait_console two "$MARKER"
boot_end
if grep -q "$MARKER" "$W/two.log" && grep -q 'tether: root unlocked' "$W/two.log" &&
	grep -q 'tether: data unlocked' "$W/two.log"; then
	ok "root on LVM inside LUKS and a data volume: tether unlocks both with no typing (${BOOT_WALL} s)"
else
	not_ok "root on LVM inside LUKS and a data volume: tether unlocks both with no typing" \
		"$(console_tail two)"
fi
check "... the root mounted is the LV in the opened volume (dm-1 or dm-2)" \
	grep -Eq 'EXT4-fs \(dm-[12]\): mounted' "$W/two.log"
check "... the data volume through cryptsetup's token plugin (the network was up), its prompt then answered" \
	grep -q "tether: data unlocked by cryptsetup's token plugin" "$W/two.log"
check_eq "... the data volume was set up once" 1 \
	"$(grep -c 'cryptsetup: data: set up successfully' "$W/two.log")"
clean two

# ------------------------------------------------ a link of the test's own
# A network namespace with a tap device for the guest, dnsmasq on it for
# DHCP and DNS, and tetherd on the tap's address.
link_ns || bail "a namespace with a tap device, dnsmasq and tetherd"
ok "a namespace with a tap device, dnsmasq and tetherd"

# ------------------------------------------------ case 2: DNS from DHCP
cp "$W/luks.img" "$W/case2.img"
check "bind to http://keys (a short name: the search domain comes by DHCP)" \
	bind "$W/case2.img" "{\"url\":\"http://keys:$NS_PORT\",\"adv\":\"$W/adv.json\"}"
NETNS=$NS boot case2 "$W/case2.img" "$W/initrd-tether" "" "${TAP[@]}"
unattended case2 "case 2: server by DNS name, DNS learned by DHCP: unlocks with no typing" \
	"$W/dnsmasq.log"
check "case 2: the guest asked dnsmasq for keys.boot.test" \
	grep -q 'query\[A\] keys.boot.test' "$W/dnsmasq.log"
check "case 2: tetherd in the namespace answered the recovery" \
	grep -q 'POST /rec/.* 200' "$W/ns.log"
check "case 2: the network is taken down before the real system starts" \
	grep -q 'tether: took .* down' "$W/case2.log"
clean case2

# ------------------------------------------------ case 3: mDNS
mdns_responder tetherd-boot.local ||
	bail "an mDNS responder on the guest's link" "$(tail -n 5 "$W/mdns.log")"
cp "$W/luks.img" "$W/case3.img"
check "bind to http://tetherd-boot.local" \
	bind "$W/case3.img" "{\"url\":\"http://tetherd-boot.local:$NS_PORT\",\"adv\":\"$W/adv.json\"}"
NETNS=$NS boot case3 "$W/case3.img" "$W/initrd-tether" "" "${TAP[@]}"
unattended case3 "case 3: server by .local name, answered over mDNS on the link: unlocks with no typing" \
	"$W/mdns.log"
check "case 3: the responder saw the guest's question for tetherd-boot.local" \
	grep -q 'name=tetherd-boot.local' "$W/mdns.queries"
check "case 3: ... and dnsmasq was never asked for it" \
	sh -c "! grep -q 'tetherd-boot' '$W/dnsmasq.log'"
clean case3


done_testing

#!/usr/bin/env bash
# tether unlocking a LUKS2 root at boot with initramfs-tools: Debian's
# kernel under QEMU, an initramfs built by mkinitramfs with tether's hook,
# and tetherd on the host. The guest's /sbin/init prints a marker and
# powers off; each case asserts the marker, or its absence until the
# passphrase is typed on the serial console.
. "$(dirname "$0")/lib.sh"

for tool in qemu-system-x86_64 mkinitramfs unmkinitramfs cryptsetup \
	mkfs.ext4 losetup unshare; do
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
SRV_PID=$srv_PID
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
for v in tether clevis none; do
	share_tree "$W/share-$v" "$v"
done
for v in tether clevis none; do
	mkinitrd "$W/share-$v" "$W/conf" "$W/crypttab" "$W/initrd-$v" \
		>"$W/mkinitramfs-$v.log" 2>&1 ||
		bail "mkinitramfs ($v)" "$(tail -n 20 "$W/mkinitramfs-$v.log")"
done
ok "mkinitramfs builds images with tether's hook, with clevis's, and with neither"
losetup -d "$LOOP"

initrd_files "$W/initrd-tether" >"$W/files-tether"
initrd_files "$W/initrd-clevis" >"$W/files-clevis"
has() { grep -Eq -- "$2" "$W/files-$1"; }
check "the tether image holds tether" has tether '^usr/bin/tether$'
check "... and the token plugin" has tether 'cryptsetup/libcryptsetup-token-clevis\.so$'
check "... and its boot scripts" has tether '^scripts/local-top/tether$'
check "... and no clevis, curl, bash or jose" sh -c "! grep -Eq '(clevis$|bin/curl$|bin/bash$|bin/jose$)' '$W/files-tether'"
check "... and no CA bundle: the binding is plain http" sh -c "! grep -q 'ca-certificates.crt' '$W/files-tether'"
check "the clevis image holds clevis's scripts (the comparison is real)" has clevis '^scripts/local-top/clevis$'

size() { stat -c %s "$1"; }
base=$(size "$W/initrd-none")
t_add=$(( $(size "$W/initrd-tether") - base ))
c_add=$(( $(size "$W/initrd-clevis") - base ))
echo "# initramfs size added (zstd, same run): tether $((t_add / 1024)) KiB," \
	"clevis-initramfs $((c_add / 1024)) KiB, ratio $(awk -v t="$t_add" -v c="$c_add" 'BEGIN { printf "%.2f", t / c }')" \
	"(target below 0.5), over a $((base / 1024)) KiB image with neither"

APPEND_NET=""
# ------------------------------------------------ case 1
boot case1 "$W/case1.img" "$W/initrd-tether" "$APPEND_NET" \
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


# typed NAME: the console shows the passphrase was typed and the root
# booted, with tether not claiming the unlock.
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

# ------------------------------------------------ case 4: https
d=$W/pki
mkdir "$d"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 -subj /CN=boot-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$d/srv.key" -out "$d/srv.csr" -subj /CN=10.0.2.2 2>/dev/null
printf 'subjectAltName=IP:10.0.2.2,IP:127.0.0.1\n' >"$d/ext"
openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
	-CAcreateserial -days 2 -extfile "$d/ext" -out "$d/srv.pem" 2>/dev/null
chmod 600 "$d/srv.key"
CLIENTS=$W/clients
TOK4=$("$TETHERD" clients add guest4 --clients "$CLIENTS")
TOK6=$("$TETHERD" clients add guest6 --clients "$CLIENTS")
TLS_PORT=$(free_port)
"$TETHERD" serve --keys "$W/keys" --clients "$CLIENTS" \
	--listen "https://127.0.0.1:$TLS_PORT" --tls-cert "$d/srv.pem" \
	--tls-key "$d/srv.key" >>"$W/tls.log" 2>&1 &
test_pids+=("$!")
wait_for "tetherd https" curl -sf --cacert "$d/ca.pem" -u "guest4:$TOK4" \
	-o /dev/null "https://127.0.0.1:$TLS_PORT/adv" ||
	bail "tetherd serves https with client credentials"
CA_JSON=$(jq -Rs . <"$d/ca.pem")
cp "$W/luks.img" "$W/case4.img"
check "bind over https with the CA in the binding and a client credential" \
	bind "$W/case4.img" "{\"url\":\"https://guest4:$TOK4@10.0.2.2:$TLS_PORT\",\"adv\":\"$W/adv.json\",\"ca\":$CA_JSON}"
boot case4 "$W/case4.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console case4 "$MARKER"
boot_end
if grep -q "$MARKER" "$W/case4.log" && grep -q 'tether: root unlocked' "$W/case4.log"; then
	ok "case 4: https, trust anchor in the binding, client credential: unlocks with no typing (${BOOT_WALL} s)"
else
	not_ok "case 4: https, trust anchor in the binding, client credential: unlocks with no typing" \
		"$(console_tail case4)"
fi
check "case 4: tetherd logged the guest's recovery as client guest4" \
	grep -q 'POST /rec/.* 200 .*client guest4' "$W/tls.log"

# ------------------------------------------------ case 5: server unreachable
DEAD_PORT=$(free_port)
cp "$W/luks.img" "$W/case5.img"
check "bind to a server that will not be there" \
	bind "$W/case5.img" "{\"url\":\"http://10.0.2.2:$DEAD_PORT\",\"adv\":\"$W/adv.json\"}"
boot case5a "$W/case5.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console case5a 'tether: root: no server gave a key'
check "case 5: with no server, tether says so and retries" \
	grep -q 'next try in' "$W/case5a.log"
check "case 5: ... and the root is not open yet" sh -c "! grep -q '$MARKER' '$W/case5a.log'"
typed_boot case5a "case 5: the passphrase typed after the unlock attempts boots it"

boot case5b "$W/case5.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console case5b 'Please unlock disk root'
typed_boot case5b "case 5: the passphrase typed at once, before the attempts, boots it"

# ------------------------------------------------ case 6: client disabled
PIN="sha256//$(openssl x509 -in "$d/srv.pem" -pubkey -noout |
	openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
cp "$W/luks.img" "$W/case6.img"
check "bind over https with a key pin and guest6's credential" \
	bind "$W/case6.img" "{\"url\":\"https://guest6:$TOK6@10.0.2.2:$TLS_PORT\",\"adv\":\"$W/adv.json\",\"pin\":\"$PIN\"}"
check "tetherd clients disable guest6" "$TETHERD" clients disable guest6 --clients "$CLIENTS"
boot case6 "$W/case6.img" "$W/initrd-tether" "" -nic "user,model=virtio-net-pci"
wait_console case6 'tether: root: no server gave a key'
check "case 6: tetherd refused the disabled client (403)" \
	grep -q 'POST /rec/.* 403' "$W/tls.log"
check "case 6: ... so the root is not unlocked" sh -c "! grep -q '$MARKER' '$W/case6.log'"
typed_boot case6 "case 6: the passphrase prompt still works and boots it"

done_testing

#!/usr/bin/env bash
# A real systemd host: a Debian 12 root made by mmdebstrap with tether's
# packages installed by apt, booted under QEMU with systemd as PID 1.
# Three boots of the same disk: the first checks socket activation, binds
# a data volume to a tetherd on this host (over http, and over https with
# a client credential) and runs the heartbeat timer's service, which the
# host's https tetherd records; the second opens it at boot through the
# token plugin; the third boots with the servers down and opens it once
# they are back.
. "$(dirname "$0")/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"

GUEST_TIMEOUT=${GUEST_TIMEOUT:-600}
ACCEL=${TETHER_BOOT_ACCEL:-tcg}

build_debs "$W" || bail "packages build" "$(tail -n 30 "$W/build.log")"
debs=("$W"/tetherd_*.deb "$W"/tether_*.deb "$W"/tether-initramfs-tools_*.deb)
debian_root "$W/root.tar" "$DEBIAN_HOST" ||
	bail "a Debian 12 root with a kernel is made" "$(tail -n 20 "$W/mmdebstrap.log")"

R=$W/root
mkdir -p "$R" && tar -C "$R" -xf "$W/root.tar" || bail "root unpacked"
mkdir -p "$R/tmp/debs" && cp "${debs[@]}" "$R/tmp/debs/"
# The guest's initramfs, made again when tether-initramfs-tools installs,
# with only the drivers the guest needs.
echo MODULES=list >"$R/etc/initramfs-tools/conf.d/tether-test"
# Port 80 is tetherd's here: with tang's socket enabled, the package would
# leave it to tang (packages.sh checks that).
rm -f "$R/etc/systemd/system/sockets.target.wants/tangd.socket"
printf '%s\n' virtio_pci virtio_blk virtio_net ext4 >>"$R/etc/initramfs-tools/modules"
if unshare -m --propagation private sh -c 'mount -t proc proc "$0/proc" &&
	mount -t devpts devpts "$0/dev/pts" &&
	exec chroot "$0" sh -c "apt-get install -y -q /tmp/debs/*.deb"' "$R" \
	>"$W/apt.out" 2>&1; then
	ok "apt installs the packages into the root"
else
	bail "apt installs the packages into the root" "$(tail -n 20 "$W/apt.out")"
fi
rm -rf "$R/tmp/debs"

# HTTPS and an open listener, as an operator adds them: a certificate
# and key in tetherd.conf, and the shipped socket units enabled.
mkdir -p -m 0700 "$R/etc/tether/tls" "$R/etc/tether-test"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 30 -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
	-keyout "$R/etc/tether/tls/key.pem" -out "$R/etc/tether/tls/chain.pem" \
	>"$W/openssl.out" 2>&1 || bail "a certificate for the guest" "$(cat "$W/openssl.out")"
chroot "$R" chown -R tether:tether /etc/tether/tls
printf 'tls-cert = /etc/tether/tls/chain.pem\ntls-key = /etc/tether/tls/key.pem\n' \
	>>"$R/etc/tether/tetherd.conf"
chroot "$R" systemctl enable tetherd-https.socket tetherd-open.socket >/dev/null 2>&1
jq -cn --rawfile ca "$R/etc/tether/tls/chain.pem" '{url: "https://127.0.0.1", ca: $ca}' \
	>"$R/etc/tether-test/https.json"

# The data volume's second binding, for the heartbeat: a client with a
# heartbeat period on a tetherd of this host that asks credentials, over
# https (tether sends credentials over nothing else). The guest reaches
# it as 10.0.2.2.
HB_PORT=$(free_port)
service_dir "$W/state" || bail "a state directory for the https tetherd"
HB_CLIENTS=$W/state/clients
test_ca "$W/pki" && test_cert "$W/pki" srv 10.0.2.2 IP:10.0.2.2,IP:127.0.0.1 ||
	bail "a test CA and a certificate for 10.0.2.2"
HB_TOKEN=$("$TETHERD" clients add guest --heartbeat 7d --clients "$HB_CLIENTS") ||
	bail "tetherd clients add guest --heartbeat 7d"
jq -cn --rawfile ca "$W/pki/ca.pem" --arg url "https://guest:$HB_TOKEN@10.0.2.2:$HB_PORT" \
	'{url: $url, ca: $ca}' >"$R/etc/tether-test/heartbeat.json"

# The guest: DHCP by systemd-networkd, the check service, no getty on
# the serial line (the check reads what the host types there).
echo guest >"$R/etc/hostname"
echo "/dev/vda / ext4 rw 0 1" >"$R/etc/fstab"
cat >"$R/etc/systemd/network/20-dhcp.network" <<-'NET'
	[Match]
	Name=en* eth*
	[Network]
	DHCP=yes
NET
install -m 755 "$(dirname "$0")/guest-check" "$R/usr/local/sbin/tether-check"
cat >"$R/etc/systemd/system/tether-check.service" <<-'UNIT'
	[Unit]
	Description=tether system test checks
	After=multi-user.target
	[Service]
	Type=oneshot
	ExecStart=/usr/local/sbin/tether-check
	[Install]
	WantedBy=multi-user.target
UNIT
chroot "$R" systemctl enable systemd-networkd.service tether-check.service \
	>/dev/null 2>&1
# Nothing the checks do not need: under software emulation every unit
# costs seconds.
for unit in serial-getty@ttyS0.service e2scrub_reap.service \
	apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer \
	e2scrub_all.timer fstrim.timer; do
	ln -sf /dev/null "$R/etc/systemd/system/$unit"
done
vmlinuz=$(ls "$R"/boot/vmlinuz-* | sort -V | tail -n 1)
initrd=$(ls "$R"/boot/initrd.img-* | sort -V | tail -n 1)
cp "$vmlinuz" "$W/vmlinuz" && cp "$initrd" "$W/initrd" ||
	bail "the root has a kernel and an initramfs"
rm -f "$W/disk.img"
mke2fs -q -t ext4 -d "$R" "$W/disk.img" 3G || bail "the root's disk image is made"
rm -rf "$R"
truncate -s 64M "$W/data.img"
ok "a disk image with the installed packages is made"

accel=()
for a in ${ACCEL//:/ }; do
	[ "$a" = kvm ] && [ ! -w /dev/kvm ] && continue
	accel+=(-accel "$a")
done
# Software emulation on a busy machine is slow: no unit start may time out.
SLOW="systemd.default_timeout_start_sec=900 systemd.show_status=0 quiet"
# guest NAME CASE: boots the disk; the console goes to $W/NAME.log and
# fd 7 types on it. The guest reaches this host's loopback as 10.0.2.2;
# this host reaches the guest's port 80 on 127.0.0.1:$GUEST_PORT.
guest() {
	rm -f "$W/$1.in"
	mkfifo "$W/$1.in"
	timeout "$GUEST_TIMEOUT" qemu-system-x86_64 "${accel[@]}" -m 1024 -smp 1 \
		-display none -monitor none -serial stdio -no-reboot \
		-kernel "$W/vmlinuz" -initrd "$W/initrd" \
		-append "console=ttyS0 root=/dev/vda rw panic=-1 $SLOW tether.check=$2 tether.server=http://10.0.2.2:$SERVER_PORT" \
		-drive "file=$W/disk.img,format=raw,if=virtio" \
		-drive "file=$W/data.img,format=raw,if=virtio" \
		-nic "user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:$GUEST_PORT-:80" \
		<"$W/$1.in" >"$W/$1.log" 2>&1 &
	GUEST_PID=$!
	test_pids+=("$GUEST_PID")
	exec 7>"$W/$1.in"
}
wait_console() { # NAME REGEX: until the console shows it or the guest is gone
	while ! grep -Eq -- "$2" "$W/$1.log" 2>/dev/null; do
		kill -0 "$GUEST_PID" 2>/dev/null || return 1
		sleep 0.5
	done
}
# guest_results NAME: the guest's own checks as TAP lines here.
guest_results() {
	wait "$GUEST_PID" 2>/dev/null
	exec 7>&-
	tr -d '\r' <"$W/$1.log" | sed -n 's/^GUEST \(ok\|not ok\) - /\1|/p' |
		while IFS='|' read -r res desc; do echo "$res|$desc"; done >"$W/$1.results"
	while IFS='|' read -r res desc; do
		if [ "$res" = ok ]; then ok "$1: $desc"; else
			not_ok "$1: $desc" "$(tr -d '\r' <"$W/$1.log" | grep -A3 -F "$desc" | grep '^GUEST #')"
		fi
	done <"$W/$1.results"
	tr -d '\r' <"$W/$1.log" | sed -n 's/^GUEST # figure: /# /p'
	if grep -q 'GUEST done' "$W/$1.log"; then
		ok "$1: the guest ran its checks to the end"
	else
		not_ok "$1: the guest ran its checks to the end" \
			"$(tr -d '\r' <"$W/$1.log" | tail -n 30)"
	fi
}

mkdir -p "$W/keys"
"$TETHERD" keys create --keys "$W/keys" >/dev/null
SERVER_PORT=$(free_port)
GUEST_PORT=$(free_port)
start_server() {
	WANT_PORT=$SERVER_PORT start_tetherd server "$W/keys"
}
start_server || bail "the host's tetherd starts"
start_hb_server() {
	"$TETHERD" serve --keys "$W/keys" --clients "$HB_CLIENTS" \
		--listen "https://127.0.0.1:$HB_PORT" --tls-cert "$W/pki/srv.pem" \
		--tls-key "$W/pki/srv.key" --rec-rate 0 \
		--max-connections-per-address 0 >>"$W/hb.log" 2>&1 &
	hb_PID=$!
	test_pids+=("$hb_PID")
	wait_for "tetherd https" curl -sf --cacert "$W/pki/ca.pem" \
		-u "guest:$HB_TOKEN" -o /dev/null "https://127.0.0.1:$HB_PORT/adv"
}
start_hb_server || bail "the host's https tetherd starts" "$(tail -n 5 "$W/hb.log")"

# Boot 1: socket activation, and the data volume bound.
guest setup setup
if wait_console setup 'GUEST waiting recover-done'; then
	got=$(echo from-host | "$TETHER" encrypt tang \
		"{\"url\":\"http://127.0.0.1:$GUEST_PORT\"}" -y | "$TETHER" decrypt)
	check_eq "the host binds and recovers through the guest's tetherd" from-host "$got"
	echo recover-done >&7
else
	not_ok "the guest's tetherd serves the host" "$(tr -d '\r' <"$W/setup.log" | tail -n 30)"
fi
guest_results setup
check "the host's https tetherd recorded the heartbeat of the guest's service (204, client guest)" \
	grep -q 'POST /tether/heartbeat 204 .*client guest' "$W/hb.log"
check "... tetherd approvals list shows guest's last heartbeat" sh -c \
	"'$TETHERD' approvals list --clients '$HB_CLIENTS' | grep -q '^guest heartbeat last 20'"

# Boot 2: the volume opens at boot, no passphrase typed.
guest boot boot
guest_results boot

# Boot 3: the servers are down at boot; the volume opens later.
stop_pid "$server_PID"
stop_pid "$hb_PID"
guest late late
if wait_console late 'GUEST waiting server-up'; then
	start_server || not_ok "the host's tetherd starts again"
	start_hb_server || not_ok "the host's https tetherd starts again"
	echo server-up >&7
fi
guest_results late

done_testing

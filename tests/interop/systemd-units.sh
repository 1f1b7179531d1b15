#!/usr/bin/env bash
# The units as meson installs them: systemd-analyze verifies them and
# rates the service's exposure (at most 2.0, "OK" or better); the user
# they run as is the one sysusers creates and tetherd drops to.
. "$(dirname "$0")/lib.sh"
: "${UNIT_DIR:?UNIT_DIR must name the built units}"
src=$(dirname "$0")/../../systemd

mkdir "$TEST_DIR/units"
# verify wants ExecStart's binary to exist: point it at the built one.
sed "s|^ExecStart=[^ ]*|ExecStart=$TETHERD|" "$UNIT_DIR/tetherd.service" \
	>"$TEST_DIR/units/tetherd.service"
cp "$src/tetherd.socket" "$src/tetherd-https.socket" "$src/tetherd-open.socket" \
	"$src/tetherd-metrics.socket" \
	"$TEST_DIR/units/"
check "systemd-analyze verify accepts tetherd.service and its sockets" sh -c \
	"cd '$TEST_DIR/units' && systemd-analyze verify --man=no ./tetherd.socket ./tetherd-https.socket ./tetherd-open.socket ./tetherd-metrics.socket ./tetherd.service 2>&1 | tee /dev/stderr | (! grep -q .)"
check_eq "the https, open and metrics sockets name their descriptors as tetherd reads them" \
	"https open metrics" "$(sed -n 's/^FileDescriptorName=//p' "$src/tetherd-https.socket" "$src/tetherd-open.socket" "$src/tetherd-metrics.socket" | tr '\n' ' ' | sed 's/ $//')"

systemd-analyze security --offline=yes "$TEST_DIR/units/tetherd.service" \
	>"$TEST_DIR/security.out" 2>&1
exposure=$(sed -n 's/.*Overall exposure level for tetherd.service: \([0-9.]*\).*/\1/p' \
	"$TEST_DIR/security.out")
check "systemd-analyze rates the exposure" test -n "$exposure"
echo "# exposure: $exposure"
check "... at most 2.0 (it is $exposure)" awk -v e="${exposure:-99}" \
	'BEGIN { exit !(e <= 2.0) }'
for setting in "User=tether" "NoNewPrivileges=yes" "CapabilityBoundingSet=" \
	"ProtectSystem=strict" "PrivateNetwork=yes" "SystemCallFilter=@system-service" \
	"RestrictAddressFamilies=AF_UNIX" "StateDirectory=tether"; do
	check "the service sets $setting" grep -qx "$setting" "$UNIT_DIR/tetherd.service"
done
check_eq "sysusers creates the user the service runs as" tether \
	"$(awk '$1 == "u" {print $2}' "$src/tether.sysusers")"
check "the service reads the config file meson installs" \
	grep -q "^ExecStart=.* serve --config .*/tether/tetherd.conf$" \
	"$UNIT_DIR/tetherd.service"

# The generator: crypttab's _netdev volumes, and only those, are opened
# after network-online.target, so a binding's servers are reachable.
gen=$src/tether-cryptsetup-generator
cat >"$TEST_DIR/crypttab" <<'EOF2'
# a comment
root UUID=0b1c none luks,discard
data /dev/vdb none luks,_netdev,nofail
web-cache /dev/vdc none _netdev
EOF2
mkdir "$TEST_DIR/gen"
check "the generator runs on a crypttab" env SYSTEMD_CRYPTTAB="$TEST_DIR/crypttab" \
	"$gen" "$TEST_DIR/gen" "$TEST_DIR/gen" "$TEST_DIR/gen"
dropin() { # UNIT: its drop-in orders it after network-online.target
	grep -qx 'After=network-online.target' "$TEST_DIR/gen/$1.d/50-tether-network-online.conf" &&
		grep -qx 'Wants=network-online.target' "$TEST_DIR/gen/$1.d/50-tether-network-online.conf"
}
check "a _netdev volume waits for network-online.target" dropin 'systemd-cryptsetup@data.service'
check "... with its name escaped as systemd does" dropin 'systemd-cryptsetup@web\x2dcache.service'
check_eq "... and no other volume does" 2 "$(find "$TEST_DIR/gen" -type f | wc -l)"
check "no crypttab: the generator does nothing, quietly" sh -c \
	"SYSTEMD_CRYPTTAB=/nonexistent '$gen' '$TEST_DIR/gen2' && ! [ -e '$TEST_DIR/gen2' ]"

done_testing

#!/usr/bin/env bash
# tether heartbeat -d DEV: each server the volume's bindings name (sss
# included) that has a client credential gets POST /tether/heartbeat over
# https, trusted through the binding's own CA; tetherd records it; a
# refused client and a binding without a credential are said so, and the
# exit status is 0 only when a server recorded it. The timer and service
# units pass systemd-analyze verify.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"

d=$TEST_DIR/pki
check "a test CA" test_ca "$d"
check "a server certificate for 127.0.0.1" test_cert "$d" srv 127.0.0.1 IP:127.0.0.1
CA_JSON=$(jq -Rs . <"$d/ca.pem")

# start_https NAME: tetherd NAME with its own keys and clients file
# (client pc, period 1d), an https listener (HTTPS_NAME) beside the
# plain one start_tetherd waits on; sets TOK_NAME, the client's token.
start_https() {
	local n=$1 hport
	mkdir -m 0700 "$TEST_DIR/keys-$n"
	service_dir "$TEST_DIR/state-$n"
	eval "TOK_$n=\$('$TETHERD' clients add pc --heartbeat 1d --clients '$TEST_DIR/state-$n/clients')"
	hport=$(free_port)
	start_tetherd "$n" "$TEST_DIR/keys-$n" --clients "$TEST_DIR/state-$n/clients" \
		--listen "https://127.0.0.1:$hport" --tls-cert "$d/srv.pem" \
		--tls-key "$d/srv.key" --auth-fail-rate 0 ||
		{ not_ok "tetherd $n starts"; cat "$TEST_DIR/$n.log"; done_testing; exit 1; }
	eval "HTTPS_$n=127.0.0.1:$hport"
}
start_https a
start_https b
mkdir -m 0700 "$TEST_DIR/keys-c"
start_tetherd c "$TEST_DIR/keys-c" ||
	{ not_ok "tetherd c starts"; done_testing; exit 1; }
URL_C=$URL
# seen NAME: the time server NAME last recorded pc's heartbeat.
seen() { sed -n 's/^pc seen \([0-9]*\)$/\1/p' "$TEST_DIR/state-$1/clients.approvals"; }
cfg() { # NAME: pc's tang configuration for server NAME, its CA carried
	local tok host
	eval "tok=\$TOK_$1 host=\$HTTPS_$1"
	printf '{"url":"https://pc:%s@%s","ca":%s}' "$tok" "$host" "$CA_JSON"
}
printf '%s\n' "$PASS" >"$TEST_DIR/passline"
bind() { # IMAGE PIN CONFIG
	IN=$TEST_DIR/passline tl bind -y -d "$TEST_DIR/$1" -k - "$2" "$3"
}
hb() { trun /dev/null "$TEST_DIR/hb.out" heartbeat "$@"; OUT=$(cat "$TEST_DIR/hb.out"); }

new_image one.img
bind one.img tang "$(cfg a)"
expect_ok "an image bound to server a with pc's credential and the CA"

# Within the period, but an hour old: a heartbeat moves it to now.
sed -i "/^pc seen /d" "$TEST_DIR/state-a/clients.approvals" 2>/dev/null
old=$(($(date +%s) - 3600))
echo "pc seen $old" >>"$TEST_DIR/state-a/clients.approvals"
# No system CA store: only the binding's CA makes the server trusted.
SSL_CERT_FILE=/nonexistent SSL_CERT_DIR=/nonexistent hb -d "$TEST_DIR/one.img"
expect_ok "tether heartbeat -d IMG succeeds"
check_eq "... one line for the server: ok" "https://$HTTPS_a (client pc): ok" "$OUT"
check "... and server a recorded it (pc seen now, not an hour ago)" \
	test "$(seen a)" -gt "$old"

# Past its period: refused, and said so.
sed -i "s/^pc seen .*/pc seen $(($(date +%s) - 2 * 86400))/" "$TEST_DIR/state-a/clients.approvals"
hb -d "$TEST_DIR/one.img"
check "past its period, the heartbeat fails (exit status $RC)" test "$RC" -ne 0
check "... the line says refused, 403, presence" sh -c \
	"printf '%s\n' \"\$1\" | grep -q '^https://$HTTPS_a (client pc): refused (HTTP 403): .*presence expired'" \
	sh "$OUT"
check "an operator approves pc" "$TETHERD" approve pc --clients "$TEST_DIR/state-a/clients"
hb -d "$TEST_DIR/one.img"
expect_ok "... then the heartbeat is recorded again"

check "pc is disabled on server a" "$TETHERD" clients disable pc \
	--clients "$TEST_DIR/state-a/clients"
hb -d "$TEST_DIR/one.img"
check "a disabled client's heartbeat fails (exit status $RC)" test "$RC" -ne 0
check "... refused with 403" sh -c \
	"printf '%s\n' \"\$1\" | grep -q '^https://$HTTPS_a (client pc): refused (HTTP 403)'" sh "$OUT"
check "pc is enabled again" "$TETHERD" clients enable pc \
	--clients "$TEST_DIR/state-a/clients"

# sss over a and b, and a second binding to a without a credential.
new_image sss.img
bind sss.img sss "{\"t\":1,\"pins\":{\"tang\":[$(cfg a),$(cfg b)]}}"
expect_ok "an image bound with sss to servers a and b"
bind sss.img tang "{\"url\":\"$URL_C\"}"
expect_ok "... and with tang to server c without a credential"
rm -f "$TEST_DIR/state-a/clients.approvals" "$TEST_DIR/state-b/clients.approvals"
hb -d "$TEST_DIR/sss.img"
expect_ok "tether heartbeat -d on the sss image succeeds"
check_eq "... both servers of the sss binding, and c skipped" \
	"https://$HTTPS_a (client pc): ok
https://$HTTPS_b (client pc): ok
$URL_C: skipped: the binding has no client credential" "$OUT"
check "... server a recorded it" test -n "$(seen a)"
check "... server b recorded it" test -n "$(seen b)"
check "... tetherd approvals list on b shows it" sh -c \
	"'$TETHERD' approvals list --clients '$TEST_DIR/state-b/clients' | grep -q '^pc heartbeat last 20'"

new_image none.img
bind none.img tang "{\"url\":\"$URL_C\"}"
expect_ok "an image bound to server c only, without a credential"
hb -d "$TEST_DIR/none.img"
expect_failed "with no server having a credential, it fails" /dev/null \
	"no server with a client credential"
check_eq "... c skipped" "$URL_C: skipped: the binding has no client credential" "$OUT"

# One server from the command line.
hb "$(cfg b)"
expect_ok "tether heartbeat CONFIG: one server"
check_eq "... ok" "https://$HTTPS_b (client pc): ok" "$OUT"
hb "http://pc:$TOK_b@127.0.0.1:1"
expect_failed "a credential in an http url is refused, nothing sent" "$TEST_DIR/hb.out" \
	"need https"
SSL_CERT_FILE=$d/ca.pem hb "https://pc:$TOK_b@$HTTPS_b"
expect_ok "tether heartbeat URL: one server through the system's CA store"
# A bare URL trusts the system's CA store: here the test CA alone.
SSL_CERT_FILE=$d/ca.pem hb "https://pc:wrong@$HTTPS_b"
check "a wrong token fails (exit status $RC)" test "$RC" -ne 0
check_eq "... refused with 401 (the URL's server trusted through SSL_CERT_FILE)" \
	"https://$HTTPS_b (client pc): refused (HTTP 401): the server does not know this client's name and token" \
	"$OUT"

# The units as meson builds them, for the instance of a device.
: "${UNIT_DIR:?UNIT_DIR must name the built units}"
mkdir "$TEST_DIR/units"
inst=$(systemd-escape --path /dev/disk/by-uuid/0b1c)
sed "s|^ExecStart=[^ ]*|ExecStart=$TETHER|" "$UNIT_DIR/tether-heartbeat@.service" \
	>"$TEST_DIR/units/tether-heartbeat@$inst.service"
cp "$(dirname "$0")/../../systemd/tether-heartbeat@.timer" \
	"$TEST_DIR/units/tether-heartbeat@$inst.timer"
check "systemd-analyze verify accepts the heartbeat timer and service" sh -c \
	"cd '$TEST_DIR/units' && systemd-analyze verify --man=no './tether-heartbeat@$inst.timer' './tether-heartbeat@$inst.service' 2>&1 | tee /dev/stderr | (! grep -q .)"
exposure=$(systemd-analyze security --offline=yes \
	"$TEST_DIR/units/tether-heartbeat@$inst.service" 2>&1 |
	sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
echo "# exposure: $exposure"
check "systemd-analyze rates the service's exposure at most 2.0 (it is $exposure)" \
	awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 2.0) }'
check "the service runs tether heartbeat on the instance's device" \
	grep -qx "ExecStart=.*/tether heartbeat -d %f" "$UNIT_DIR/tether-heartbeat@.service"
check_log_clean a "$a_PID"
check_log_clean b "$b_PID"
done_testing

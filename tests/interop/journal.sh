#!/usr/bin/env bash
# Logs under systemd: with JOURNAL_STREAM naming stderr, as systemd sets
# it ("DEV:INODE" of the stream, in decimal), every line starts with its
# syslog priority (<3> errors only, <4> warnings, <6> the rest, request
# lines included) and no line repeats the program name the journal
# records; unset or naming another file, lines are "tetherd: ..." as
# before. Then the audit file under the unit's layout (a directory of
# the service user's, 0700, as LogsDirectory= makes it), written by a
# tetherd that dropped to the service user: renamed and SIGHUP, a new
# file at the path takes the next recovery; a new audit-log path on
# SIGHUP is used from then on, one the user cannot create is refused
# with a warning; the shipped logrotate snippet, run by logrotate with
# its postrotate aimed at this tetherd, rotates it the same way, and its
# postrotate is quiet and reloads nothing when tetherd.service is not
# active.
. "$(dirname "$0")/lib.sh"

: "${TETHER:?TETHER must name the tether binary}"
SNIPPET=$(dirname "$0")/../../etc/tetherd.logrotate

journal_stream() { # FILE: what systemd would set for a stream on FILE
	stat -c '%d:%i' "$1"
}

# -------------------------------------------------- priorities in the journal
keys=$TEST_DIR/keys
mkdir -m 0700 "$keys"
printf 'not a key\n' >"$keys/junk.jwk"
cdir=$TEST_DIR/cdir
mkdir -m 0755 "$cdir"
C=$cdir/clients
tok=$("$TETHERD" clients add web1 --clients "$C")

J=$TEST_DIR/j.log
: >"$J"
JOURNAL_STREAM=$(journal_stream "$J")
export JOURNAL_STREAM
start_tetherd j "$keys" --clients "$C" --auth-fail-rate 0 ||
	{ not_ok "tetherd starts"; cat "$J"; done_testing; exit 1; }
unset JOURNAL_STREAM
web1=http://web1:$tok@127.0.0.1:$PORT
check_eq "web1 is served" 200 "$(http_status GET "$web1/adv")"
# A clients file the service user cannot read (not as root: a malformed
# one, since the server runs as its owner).
owner=$(stat -c %u:%g "$C")
cp "$C" "$cdir/new"
if [ "$(id -u)" -eq 0 ]; then
	chown root:root "$cdir/new"
	chmod 600 "$cdir/new"
	refusal="cannot read the clients now"
else
	echo "web2 maybe 00" >>"$cdir/new"
	refusal="line 2 is not"
fi
mv -f "$cdir/new" "$C"
check_eq "with the clients file unreadable, web1 gets 503" 503 \
	"$(http_status GET "$web1/adv")"
cp "$C" "$cdir/new" && sed -i '/^web2 /d' "$cdir/new" &&
	chown "$owner" "$cdir/new" && mv -f "$cdir/new" "$C"
check_eq "... and 200 once it reads again" 200 "$(http_status GET "$web1/adv")"
check_log_clean j "$j_PID"

check "the clients file's refusal is an error (<3>)" \
	grep -q "^<3>$C: $refusal" "$J"
check "the skipped key file is a warning (<4>)" \
	grep -q '^<4>skipping key file junk.jwk' "$J"
check "start-up lines are info (<6>)" sh -c \
	"grep -q '^<6>listening on http://127.0.0.1:$PORT' '$J' &&
	 grep -q '^<6>serving [0-9]* advertised keys' '$J'"
check "request lines are info (<6>)" \
	grep -q '^<6>127\.0\.0\.1:[0-9]* GET /adv 200 .* client web1' "$J"
check "the clients file read again is info (<6>)" \
	grep -q "^<6>$C: read again: 1 clients" "$J"
check "every line starts with a priority" sh -c "! grep -v '^<[0-7]>' '$J'"
check "no line names the program: the journal does" \
	sh -c "! grep 'tetherd: ' '$J'"
check "errors only at <3> (journalctl -p err): the clients file's" \
	sh -c "grep '^<[0-3]>' '$J' | grep -q . &&
	       ! grep '^<[0-3]>' '$J' | grep -v '^<3>$C: '"

# A start refused, and a client's failure, go to the journal as errors.
R=$TEST_DIR/refused.log
: >"$R"
JOURNAL_STREAM=$(journal_stream "$R") "$TETHERD" serve --keys "$keys" \
	--listen bogus 2>>"$R"
check_eq "a refused start exits 1" 1 "$?"
check_eq "... and says why as an error, unnamed" \
	"<3>--listen bogus: expected http://ADDR:PORT or https://ADDR:PORT with an IPv4 or [IPv6] address and a port from 1 to 65535" \
	"$(cat "$R")"
T=$TEST_DIR/tether.log
: >"$T"
echo "not a jwe" | JOURNAL_STREAM=$(journal_stream "$T") "$TETHER" decrypt \
	>/dev/null 2>>"$T"
check "tether's failure is an error, unnamed" sh -c \
	"grep -q '^<3>' '$T' && ! grep -v '^<3>' '$T' && ! grep 'tether: ' '$T'"

# Not the journal: the lines as they always were.
P=$TEST_DIR/plain.log
env -u JOURNAL_STREAM "$TETHERD" serve --keys "$keys" --listen bogus 2>"$P"
check "JOURNAL_STREAM unset: 'tetherd: ' and no priority" \
	grep -qx 'tetherd: --listen bogus: expected.*' "$P"
# Inherited from a service (as by a shell started from one), with
# stderr elsewhere now.
JOURNAL_STREAM=$(journal_stream "$J") start_tetherd m "$keys" ||
	{ not_ok "tetherd starts"; done_testing; exit 1; }
check_eq "JOURNAL_STREAM naming another file: served" 200 \
	"$(http_status GET "$URL/adv")"
check_log_clean m "$m_PID"
M=$TEST_DIR/m.log
check "... its lines are 'tetherd: ...'" sh -c \
	"grep -q '^tetherd: listening on $URL' '$M' &&
	 grep -q '^tetherd: skipping key file junk.jwk' '$M'"
check "... request lines as they were" \
	grep -q '^127\.0\.0\.1:[0-9]* GET /adv 200' "$M"
check "... and no line has a priority" sh -c "! grep '^<[0-9]>' '$M'"

if [ "$(id -u)" -ne 0 ]; then
	skip "the audit file under the unit's layout" \
		"needs root: tetherd drops to $SERVICE_USER as it does there"
	done_testing
	exit
fi

# -------------------------------------------------- the audit file, rotated
# /var/log/tether as LogsDirectory=tether with LogsDirectoryMode=0700.
logs=$TEST_DIR/log/tether
mkdir -p "$logs"
chown "$SERVICE_USER:" "$logs"
chmod 0700 "$logs"
conf=$TEST_DIR/tetherd.conf
audit_conf() { # PATH, or nothing for no audit file
	if [ $# -gt 0 ]; then
		printf 'audit-log = %s\n' "$1" >"$conf"
	else
		: >"$conf"
	fi
}
audit_conf "$logs/audit.log"
mkdir -m 0700 "$TEST_DIR/k2"
A=$TEST_DIR/a.log
: >"$A"
JOURNAL_STREAM=$(journal_stream "$A") start_tetherd a "$TEST_DIR/k2" \
	--config "$conf" ||
	{ not_ok "tetherd starts"; cat "$A"; done_testing; exit 1; }
check "tetherd, started as root, serves as $SERVICE_USER" \
	grep -q "^<6>running as $SERVICE_USER" "$A"
kid=$(key_thps "$TEST_DIR/k2" deriveKey | head -n1)
recover() { [ "$(rec_status "$URL" "$kid")" = 200 ]; }
recoveries() { # FILE: how many recoveries it records
	grep -c '"event":"recovery"' "$1"
}
# audited FILE N: how many recoveries FILE records once it records N, or
# after wait_for's bound: tetherd writes the audit line once the reply is
# sent, so the client can see its answer before the line is there.
audited() {
	wait_for "$2 recoveries in $1" sh -c \
		'[ "$(grep -c "\"event\":\"recovery\"" "$1")" -ge "$2" ]' _ "$1" "$2"
	recoveries "$1"
}
# reload: SIGHUP, and waits until it is logged.
reload() {
	local n
	n=$(grep -c "reloaded settings" "$A")
	kill -HUP "$a_PID" &&
	wait_for "reload" sh -c "[ \$(grep -c 'reloaded settings' '$A') -gt $n ]"
}

check "a recovery" recover
check_eq "... is in the audit file" 1 "$(audited "$logs/audit.log" 1)"
mv "$logs/audit.log" "$logs/audit.log.1"
check "the file renamed, SIGHUP" reload
check "a recovery after it" recover
check_eq "... is in a new file at the configured path" 1 \
	"$(audited "$logs/audit.log" 1)"
check_eq "... which the service user made, 0600" "$SERVICE_USER 600" \
	"$(stat -c '%U %a' "$logs/audit.log")"
check_eq "... and the renamed file keeps its line only" 1 \
	"$(audited "$logs/audit.log.1" 1)"

audit_conf "$logs/moved.log"
check "audit-log changed, SIGHUP" reload
check "a recovery after it" recover
check_eq "... is in the new file" 1 "$(audited "$logs/moved.log" 1)"
check_eq "... not in the old one" 1 "$(audited "$logs/audit.log" 1)"

mkdir -m 0700 "$TEST_DIR/root-only"
audit_conf "$TEST_DIR/root-only/audit.log"
check "audit-log where the service user cannot write, SIGHUP" reload
check "... is a warning (<4>), naming the path" grep -q \
	"^<4>reload: --audit-log $TEST_DIR/root-only/audit.log: Permission denied: still appending" \
	"$A"
check "a recovery after it" recover
check_eq "... is in the file open before" 2 "$(audited "$logs/moved.log" 2)"
check "... and none where the user cannot write" \
	test ! -e "$TEST_DIR/root-only/audit.log"

audit_conf
check "audit-log removed, SIGHUP" reload
logged() { grep -c '^<6>{.*"event":"recovery"' "$A"; }
n=$(logged)
check "a recovery after it" recover
check_eq "... is in no file" 2 "$(audited "$logs/moved.log" 2)"
check_eq "... but still in the log" $((n + 1)) "$(logged)"

# ------------------------------------------------ logrotate, as shipped
audit_conf "$logs/audit.log"
check "back to audit.log" reload
check "a recovery" recover
before=$(recoveries "$logs/audit.log")
rm -f "$logs/audit.log.1"
lr=$TEST_DIR/logrotate.conf
sed -e "s|/var/log/tether/audit.log|$logs/audit.log|" \
	-e "s|systemctl -q is-active tetherd.service|kill -0 $a_PID|" \
	-e "s|systemctl reload tetherd.service|kill -HUP $a_PID|" \
	"$SNIPPET" >"$lr"
check "the snippet's postrotate is aimed at this tetherd" sh -c \
	"grep -q 'kill -HUP $a_PID' '$lr' && ! grep -q systemctl '$lr'"
n=$(grep -c "reloaded settings" "$A")
check "logrotate -f rotates it" \
	logrotate -f -s "$TEST_DIR/logrotate.state" "$lr"
check "... and its postrotate reloads tetherd" wait_for "reload" sh -c \
	"[ \$(grep -c 'reloaded settings' '$A') -gt $n ]"
check "a recovery after it" recover
check_eq "... is in the fresh file" 1 "$(audited "$logs/audit.log" 1)"
check_eq "... which logrotate made for the service user, 0600" \
	"$SERVICE_USER 600" "$(stat -c '%U %a' "$logs/audit.log")"
check_eq "... and the rotated file keeps the lines before" "$before" \
	"$(audited "$logs/audit.log.1" "$before")"
n=$(grep -c "reloaded settings" "$A")
check "logrotate -f again" logrotate -f -s "$TEST_DIR/logrotate.state" "$lr"
wait_for "reload" sh -c "[ \$(grep -c 'reloaded settings' '$A') -gt $n ]"
check "a recovery after it" recover
check_eq "... the first rotated file is compressed a rotation later" \
	"$before" "$(zcat "$logs/audit.log.2.gz" | recoveries -)"
check_eq "... the second is the file before" 1 \
	"$(audited "$logs/audit.log.1" 1)"
check_eq "... and the fresh file has the last recovery" 1 \
	"$(audited "$logs/audit.log" 1)"
check_log_clean a "$a_PID"

check "the shipped snippet parses (logrotate -d)" sh -c \
	"logrotate -d -s '$TEST_DIR/debug.state' '$SNIPPET' >'$TEST_DIR/d.out' 2>&1 &&
	 ! grep -i 'error' '$TEST_DIR/d.out'"

# The shipped postrotate, with systemctl standing in: quiet when
# tetherd.service is not active, a reload when it is.
mkdir -p "$TEST_DIR/bin" "$TEST_DIR/stub"
calls=$TEST_DIR/stub/systemctl.calls
cat >"$TEST_DIR/bin/systemctl" <<EOF
#!/bin/sh
echo "\$*" >>'$calls'
case \$* in *is-active*) [ -e '$TEST_DIR/stub/active' ] ;; esac
EOF
chmod 755 "$TEST_DIR/bin/systemctl"
stub_logs=$TEST_DIR/stub/log
mkdir -p "$stub_logs"
chown "$SERVICE_USER:" "$stub_logs"
chmod 0700 "$stub_logs"
sed "s|/var/log/tether/audit.log|$stub_logs/audit.log|" "$SNIPPET" \
	>"$TEST_DIR/stub.conf"
rotate_stub() {
	echo '{"event":"recovery"}' >"$stub_logs/audit.log"
	: >"$calls"
	PATH=$TEST_DIR/bin:$PATH logrotate -f -s "$TEST_DIR/stub.state" \
		"$TEST_DIR/stub.conf" >"$TEST_DIR/stub.out" 2>&1
}
check "tetherd.service not active: logrotate succeeds" rotate_stub
check_eq "... quietly" "" "$(cat "$TEST_DIR/stub.out")"
check_eq "... asking systemctl only whether it is active" \
	"-q is-active tetherd.service" "$(cat "$calls")"
touch "$TEST_DIR/stub/active"
check "tetherd.service active: logrotate succeeds" rotate_stub
check_eq "... and reloads it" \
	"-q is-active tetherd.service,reload tetherd.service" \
	"$(paste -sd, "$calls")"

done_testing

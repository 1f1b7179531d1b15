#!/usr/bin/env bash
# Approval, fail-closed: a client added with --approval manual gets no key
# until an operator approves (503 with Retry-After, audited, notified and
# counted as pending, listed by tetherd approvals list); approve --once
# lets one recovery through, --for a period, deny refuses; each takes
# effect at the next try with no signal and survives a restart; a state
# file that cannot be read approves nothing. Real clevis recovers once
# approved, and so does tether. Clients without approval are not held.
. "$(dirname "$0")/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"

mkdir -m 0700 "$TEST_DIR/keys"
# The server writes the approvals next to the clients file: the
# directory is the service user's, as /var/lib/tether is.
service_dir "$TEST_DIR/state"
C=$TEST_DIR/state/clients
A=$C.approvals
tok=$("$TETHERD" clients add box --approval manual --clients "$C")
web=$("$TETHERD" clients add web1 --clients "$C")
check_eq "clients list shows who needs approval" "box enabled approval=manual
web1 enabled" "$("$TETHERD" clients list --clients "$C")"
check "clients set web1 --approval manual" \
	"$TETHERD" clients set web1 --approval manual --clients "$C"
check_eq "... and back with --approval auto" "box enabled approval=manual
web1 enabled" "$("$TETHERD" clients set web1 --approval auto --clients "$C" &&
	"$TETHERD" clients list --clients "$C")"
if "$TETHERD" clients set web1 --clients "$C" 2>/dev/null; then
	not_ok "clients set without --approval is refused"
else
	ok "clients set without --approval is refused"
fi

out=$TEST_DIR/out
service_dir "$out"
printf '#!/bin/sh\ncat >"%s/$TETHER_EVENT.$$"\n' "$out" >"$TEST_DIR/record"
chmod 755 "$TEST_DIR/record"
d=$TEST_DIR/pki
test_ca "$d" && test_cert "$d" srv 127.0.0.1 IP:127.0.0.1
export CURL_CA_BUNDLE=$d/ca.pem SSL_CERT_FILE=$d/ca.pem
MPORT=$(free_port)
TPORT=$(free_port)
PORT=$(free_port)
export WANT_PORT=$PORT
start() {
	start_tetherd "$1" "$TEST_DIR/keys" --clients "$C" --auth-fail-rate 0 \
		--listen "https://127.0.0.1:$TPORT" --tls-cert "$d/srv.pem" \
		--tls-key "$d/srv.key" \
		--audit-log "$TEST_DIR/audit.log" --notify "$TEST_DIR/record" \
		--metrics "http://127.0.0.1:$MPORT" ||
		{ not_ok "tetherd starts"; cat "$TEST_DIR/$1.log"; done_testing; exit 1; }
}
start srv
kid=$(key_thps "$TEST_DIR/keys" deriveKey | head -n1)
BOX=http://box:$tok@127.0.0.1:$PORT
box() { rec_status "$BOX" "$kid"; }

check_eq "a client that needs approval is held: 503" 503 "$(box)"
check_eq "... with Retry-After" 10 "$(curl -s -o /dev/null -D - -X POST \
	-H 'Content-Type: application/jwk+json' --data-binary "@$TEST_DIR/rec-req.jwk" \
	"$BOX/rec/$kid" | tr -d '\r' | awk -F': ' 'tolower($1) == "retry-after" { print $2 }')"
check_eq "... audited as pending" "pending box $kid pending 503 approval pending" \
	"$(jq -r 'select(.client == "box") | [.event, .client, .kid, .outcome,
	.status, .reason] | join(" ")' "$TEST_DIR/audit.log" | tail -n1)"
check "... listed by tetherd approvals list" sh -c \
	"'$TETHERD' approvals list --clients '$C' | grep -q '^box pending address 127.0.0.1 kid $kid first '"
check "... the notify program ran for it" wait_for notified sh -c "ls '$out' | grep -q '^pending\.'"
check_eq "... the metrics count it" "1 2" \
	"$(curl -s "http://127.0.0.1:$MPORT/metrics" | awk '
	$1 == "tether_approvals_pending" { p = $2 }
	$1 == "tether_recoveries_total{outcome=\"pending\",client=\"box\"}" { n = $2 }
	END { print p, n }')"
check_eq "a client with no approval set is not held" 200 \
	"$(rec_status "http://web1:$web@127.0.0.1:$PORT" "$kid")"

check "tetherd approve box (once)" "$TETHERD" approve box --clients "$C"
check_eq "... the next try recovers, with no signal" 200 "$(box)"
check_eq "... once only: the one after is held again" 503 "$(box)"
check "tetherd approve box --for 1h" "$TETHERD" approve box --for 1h --clients "$C"
check_eq "... recovers" 200 "$(box)"
check_eq "... and again" 200 "$(box)"
check "... listed as approved until a time" sh -c \
	"'$TETHERD' approvals list --clients '$C' | grep -q '^box approved until 20'"
check "tetherd deny box" "$TETHERD" deny box --clients "$C"
check_eq "... refuses it: 403" 403 "$(box)"
check_eq "... audited as denied" "denied approval denied" \
	"$(jq -r 'select(.client == "box") | [.outcome, .reason] | join(" ")' \
	"$TEST_DIR/audit.log" | tail -n1)"
if "$TETHERD" approve nobody --clients "$C" 2>"$TEST_DIR/err"; then
	not_ok "approving a name that is not a client is refused"
else
	ok "approving a name that is not a client is refused"
fi
if "$TETHERD" approve box --for 3x --clients "$C" 2>/dev/null; then
	not_ok "a duration that is not N[smhdw] is refused"
else
	ok "a duration that is not N[smhdw] is refused"
fi

# A "once" is used up by the recovery that gets a key, not by one that
# fails (a body that is no JWK, a key the server does not have), nor by
# one that gets as far as the approval and no further.
check "tetherd approve box --once" "$TETHERD" approve box --once --clients "$C"
check_eq "approved once, a recovery whose body is no JWK fails: 400" 400 \
	"$(http_status POST "$BOX/rec/$kid" -H 'Content-Type: application/jwk+json' \
	--data-binary 'not a key')"
check_eq "... and one for a key the server does not have: 404" 404 \
	"$(rec_status "$BOX" "$(printf '%043d' 0)")"
check "... the approval is still listed" sh -c \
	"'$TETHERD' approvals list --clients '$C' | grep -qx 'box approved once'"
check_eq "... and the next good recovery uses it" 200 "$(box)"
check_eq "... then it is used up" 503 "$(box)"

# A removed client's approvals and heartbeat go with it: added again
# under its name, it starts held, as a new client does.
gone=$("$TETHERD" clients add gone --approval manual --clients "$C")
"$TETHERD" approve gone --for 1h --clients "$C"
check_eq "gone, approved for an hour, recovers" 200 \
	"$(rec_status "http://gone:$gone@127.0.0.1:$PORT" "$kid")"
check "tetherd clients remove gone" "$TETHERD" clients remove gone --clients "$C"
check "... forgets its approval" sh -c \
	"! grep -q '^gone ' '$A'"
gone=$("$TETHERD" clients add gone --approval manual --clients "$C")
check_eq "... added again, it is held" 503 \
	"$(rec_status "http://gone:$gone@127.0.0.1:$PORT" "$kid")"
# Edited out of the file by hand: the server forgets it when it reads
# the file again (at the next request with credentials).
"$TETHERD" approve gone --for 1h --clients "$C"
grep -v '^gone ' "$C" >"$TEST_DIR/clients.edited"
cat "$TEST_DIR/clients.edited" >"$C"
check "a client edited out of the clients file still has its approval on file" \
	grep -q '^gone until ' "$A"
check_eq "... until another client's request has the server read the file" 200 \
	"$(rec_status "http://web1:$web@127.0.0.1:$PORT" "$kid")"
check "... which forgets it" sh -c "! grep -q '^gone ' '$A'"
check "... and keeps the others'" grep -q '^box ' "$A"

# Approved once, asked by many at once: one recovers, the rest are held.
"$TETHERD" approve box --clients "$C"
for i in 1 2 3 4 5 6 7 8; do
	{ rec_status "$BOX" "$kid"; echo; } >"$TEST_DIR/race.$i" &
done
wait_for "the racers" sh -c "[ \$(cat '$TEST_DIR'/race.* | wc -w) -eq 8 ]"
check_eq "once approves exactly one of eight recoveries at once" \
	"1 200 7 503" "$(cat "$TEST_DIR"/race.* | sort | uniq -c | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')"

# Real clevis: held, then approved once, then recovers.
head -c 32 /dev/urandom >"$TEST_DIR/plain"
clevis encrypt tang "{\"url\":\"$BOX\"}" -y <"$TEST_DIR/plain" >"$TEST_DIR/jwe"
"$TETHERD" approve box --for 1h --clients "$C" >/dev/null 2>&1
"$TETHERD" deny box --clients "$C" >/dev/null 2>&1
check "clevis decrypt gets no key while box is denied" sh -c \
	"! clevis decrypt <'$TEST_DIR/jwe' >/dev/null 2>&1"
"$TETHERD" approve box --clients "$C"
check "clevis decrypt recovers once box is approved" sh -c \
	"clevis decrypt <'$TEST_DIR/jwe' | cmp -s - '$TEST_DIR/plain'"
# tether sends credentials over https only.
check "tether binds box over https" sh -c "'$TETHER' encrypt tang \
	'{\"url\":\"https://box:$tok@127.0.0.1:$TPORT\"}' -y \
	<'$TEST_DIR/plain' >'$TEST_DIR/t.jwe'"
check "tether decrypt gets no key while box waits for approval" sh -c \
	"! '$TETHER' decrypt <'$TEST_DIR/t.jwe' >/dev/null 2>'$TEST_DIR/tether.err'"
check "... told the server answered 503" grep -q 503 "$TEST_DIR/tether.err"
check "tether decrypt recovers once box is approved" sh -c \
	"'$TETHERD' approve box --clients '$C' &&
	'$TETHER' decrypt <'$TEST_DIR/t.jwe' | cmp -s - '$TEST_DIR/plain'"

# Across a restart: a pending request and an approval stay.
check_eq "held before the restart" 503 "$(box)"
check_log_clean srv "$srv_PID"
start again
check "a pending request is still listed after a restart" sh -c \
	"'$TETHERD' approvals list --clients '$C' | grep -q '^box pending '"
"$TETHERD" approve box --for 2d --clients "$C"
check_log_clean again "$again_PID"
# A file of root's (an operator's editor, a restored backup) is given to
# the service user at the start, as the clients file is.
[ "$(id -u)" -ne 0 ] || chown root:root "$A"
start third
check_eq "an approval made while it was stopped holds after the start" 200 "$(box)"

# Fail closed.
cp "$A" "$TEST_DIR/approvals.good"
echo 'box until not-a-number' >"$A"
check_eq "a malformed approvals file approves nothing: 503" 503 "$(box)"
check_eq "... audited" "denied approvals file unreadable" \
	"$(jq -r 'select(.client == "box") | [.outcome, .reason] | join(" ")' \
	"$TEST_DIR/audit.log" | tail -n1)"
cp "$TEST_DIR/approvals.good" "$A"
check_eq "... and recovers once it reads again" 200 "$(box)"
check_log_clean third "$third_PID"
done_testing

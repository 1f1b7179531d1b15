#!/usr/bin/env bash
# Moving from Tang: keys made by tangd-keygen and bindings made by clevis
# against real tangd keep working when tetherd takes over the directory.
. "$(dirname "$0")/lib.sh"

keys=$TEST_DIR/keys
mkdir "$keys"
"$TANGD_KEYGEN" "$keys" 2>/dev/null
check_eq "tangd-keygen made a key pair" 2 "$(ls "$keys"/*.jwk | wc -l)"

start_tangd tang "$keys" || { not_ok "tangd starts"; done_testing; exit 1; }
port=$PORT
tang_thp=$(tang-show-keys "$port")
head -c 48 /dev/urandom >"$TEST_DIR/plain"
check "clevis encrypt tang against real tangd" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"$tang_thp\"}' <'$TEST_DIR/plain' >'$TEST_DIR/jwe'"
check "clevis decrypt through real tangd" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe' | cmp - '$TEST_DIR/plain'"

# A rotation done with Tang's own tool: the first binding's keys are hidden.
/usr/libexec/tangd-rotate-keys -d "$keys" >/dev/null 2>&1
check_eq "tangd-rotate-keys hid the first pair" 2 \
	"$(find "$keys" -name '.*.jwk' | wc -l)"
new_thp=$(tang-show-keys "$port")
check "clevis encrypt tang against tangd after its rotation" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"$new_thp\"}' <'$TEST_DIR/plain' >'$TEST_DIR/jwe2'"
stop_pid "$tang_PID"
before=$(ls -A "$keys" | sort)

# Debian's tangd-keygen gives the keys to _tang: tetherd serves them as
# that user, as a migration on a real host would.
WANT_PORT=$port start_tetherd srv "$keys" --user _tang ||
	{ not_ok "tetherd starts on tangd's directory"; done_testing; exit 1; }
ok "tetherd starts on tangd's directory and port"
check_eq "tetherd created no keys of its own" "$before" "$(ls -A "$keys" | sort)"
check_eq "tetherd advertises the signing key tangd advertised" \
	"$new_thp" "$(adv_signing_thps "$URL")"
check_eq "tetherd keys list agrees with tang-show-keys" \
	"$new_thp" "$("$TETHERD" keys list --keys "$keys")"
check "a binding made with tangd's hidden (rotated) keys decrypts" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe' | cmp - '$TEST_DIR/plain'"
check "a binding made with tangd's current keys decrypts" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe2' | cmp - '$TEST_DIR/plain'"
curl -sf "$URL/adv/$tang_thp" >"$TEST_DIR/adv-old" || true
jose jwk pub -i "$keys/.$tang_thp.jwk" -o "$TEST_DIR/old-sig.jwk"
check "/adv/{rotated kid} is signed by that rotated key, as Tang does" \
	jose jws ver -i "$TEST_DIR/adv-old" -k "$TEST_DIR/old-sig.jwk"
check "... and lists only the current keys, so clevis refuses the old thp" \
	sh -c "! clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"$tang_thp\"}' </dev/null"

# Tang before version 10 named key files by their SHA-1 thumbprint.
old=$TEST_DIR/old-keys
mkdir "$old"
for alg in ES512 ECMR; do
	jose jwk gen -i "{\"alg\":\"$alg\"}" -o "$TEST_DIR/k.jwk"
	mv "$TEST_DIR/k.jwk" "$old/$(jose jwk thp -i "$TEST_DIR/k.jwk" -a S1).jwk"
done
chmod 0440 "$old"/*.jwk
start_tetherd old "$old" ||
	{ not_ok "tetherd starts on a directory of SHA-1 named keys"; done_testing; exit 1; }
check "a directory named by SHA-1 thumbprints serves clevis" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\"}' -y <'$TEST_DIR/plain' | clevis decrypt | cmp - '$TEST_DIR/plain'"

# tangd-keygen run as root gives its keys to _tang: started as root for
# another user, tetherd could not read them after dropping privileges, so
# it refuses to start, naming a file, and makes no pair of its own.
if [ "$(id -u)" = 0 ] && id _tang >/dev/null 2>&1; then
	tk=$TEST_DIR/tang-owned
	mkdir -m 0700 "$tk"
	/usr/libexec/tangd-keygen "$tk"
	n0=$(ls -A "$tk" | wc -l)
	rc=0
	timeout 20 "$TETHERD" serve --keys "$tk" --listen "http://127.0.0.1:$(free_port)" \
		>"$TEST_DIR/owned.log" 2>&1 || rc=$?
	check "keys owned by _tang: tetherd --user tether refuses to start" test "$rc" -ne 0
	check "... naming a key file and its owner" grep -q "owned by uid $(id -u _tang), not tether" \
		"$TEST_DIR/owned.log"
	check_eq "... and makes no pair of its own" "$n0" "$(ls -A "$tk" | wc -l)"
	start_tetherd owned "$tk" --user _tang ||
		not_ok "tetherd --user _tang starts on them"
	check "--user _tang serves them to clevis" \
		sh -c "clevis encrypt tang '{\"url\":\"$URL\"}' -y <'$TEST_DIR/plain' | clevis decrypt | cmp - '$TEST_DIR/plain'"
else
	for d in "refuses to start" "naming a key file" "makes no pair" "--user _tang serves them"; do
		skip "keys owned by _tang: $d" "not root, or no _tang user"
	done
fi

check_log_clean srv "$srv_PID"
check_log_clean old "$old_PID"

done_testing

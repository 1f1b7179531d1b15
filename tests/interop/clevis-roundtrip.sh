#!/usr/bin/env bash
# Debian's real clevis encrypts against tetherd and decrypts through it.
. "$(dirname "$0")/lib.sh"

keys=$TEST_DIR/keys
mkdir -m 0700 "$keys"
start_tetherd srv "$keys" || { not_ok "tetherd starts"; done_testing; exit 1; }
ok "tetherd starts on an empty keys directory"

check_eq "a new directory gets one signing and one exchange key" 2 \
	"$(find "$keys" -name '*.jwk' | wc -l)"
check_eq "key files are 0600" "600 600" \
	"$(stat -c %a "$keys"/*.jwk | tr '\n' ' ' | sed 's/ $//')"
check_eq "no temporary files are left" 0 \
	"$(find "$keys" -type f ! -name '*.jwk' | wc -l)"

thp=$("$TETHERD" keys list --keys "$keys")
check_eq "keys list prints what tang-show-keys computes from /adv" \
	"$(adv_signing_thps "$URL")" "$thp"
check_eq "keys list prints the signing key's S256 thumbprint" \
	"$(key_thps "$keys" verify)" "$thp"

head -c 64 /dev/urandom >"$TEST_DIR/plain"
cfg="{\"url\":\"$URL\",\"thp\":\"$thp\"}"
check "clevis encrypt tang with a trusted thp" \
	sh -c "clevis encrypt tang '$cfg' <'$TEST_DIR/plain' >'$TEST_DIR/jwe'"
check "clevis decrypt recovers the plaintext through tetherd" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe' | cmp - '$TEST_DIR/plain'"
check_eq "the binding names the server's exchange key" \
	"$(key_thps "$keys" deriveKey)" "$(jwe_kid "$TEST_DIR/jwe")"

check "clevis encrypt tang -y (trust on first use)" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\"}' -y <'$TEST_DIR/plain' >'$TEST_DIR/jwe-y'"
check "... and decrypts" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe-y' | cmp - '$TEST_DIR/plain'"

curl -sf "$URL/adv" >"$TEST_DIR/adv.json"
check "clevis encrypt tang offline from a saved advertisement" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\",\"adv\":\"$TEST_DIR/adv.json\"}' <'$TEST_DIR/plain' >'$TEST_DIR/jwe-adv'"
check "... and decrypts" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe-adv' | cmp - '$TEST_DIR/plain'"

check "a wrong thp is refused by clevis (the advertisement is verified)" \
	sh -c "! clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"${thp%?}x\"}' </dev/null"

check_log_clean srv "$srv_PID"
check "with tetherd stopped the JWE no longer decrypts" \
	sh -c "! clevis decrypt <'$TEST_DIR/jwe' >/dev/null 2>&1"

check "the server log has a line per request with status and time" \
	grep -Eq '^127\.0\.0\.1:[0-9]+ POST /rec/[A-Za-z0-9_-]+ 200 [0-9]+\.[0-9]{3}ms$' \
	"$TEST_DIR/srv.log"

done_testing

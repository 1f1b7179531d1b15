#!/usr/bin/env bash
# tetherd keys rotate: old bindings keep decrypting, /adv moves to the new
# keys, new bindings use them; reloads on directory change and on SIGHUP.
. "$(dirname "$0")/lib.sh"

keys=$TEST_DIR/keys
mkdir "$keys"
start_tetherd srv "$keys" || { not_ok "tetherd starts"; done_testing; exit 1; }
old_sig=$("$TETHERD" keys list --keys "$keys")
old_exc=$(key_thps "$keys" deriveKey)
head -c 32 /dev/urandom >"$TEST_DIR/plain"
check "a binding made before the rotation" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"$old_sig\"}' <'$TEST_DIR/plain' >'$TEST_DIR/jwe-old'"

new_sig=$("$TETHERD" keys rotate --keys "$keys")
check "keys rotate prints the new signing key's thumbprint" \
	test "$new_sig" != "$old_sig" -a -f "$keys/$new_sig.jwk"
check "the old pair is hidden, not deleted" \
	test -f "$keys/.$old_sig.jwk" -a -f "$keys/.$old_exc.jwk"
check_eq "keys list shows only the new signing key" "$new_sig" \
	"$("$TETHERD" keys list --keys "$keys")"
adv_lists() { # URL THP: the advertisement at URL has signing key THP
	adv_signing_thps "$1" | grep -qxF -e "$2"
}
check "the running server picks up the rotation by itself" \
	wait_for "adv shows the new key" adv_lists "$URL" "$new_sig"
adv=$(curl -sf "$URL/adv" | jose fmt -j- -g payload -y -o-)
check "/adv no longer lists the old signing key" \
	sh -c "! echo '$adv' | jose jwk thp -i- -a S256 -f '$old_sig' -o /dev/null"
check "/adv no longer lists the old exchange key" \
	sh -c "! echo '$adv' | jose jwk thp -i- -a S256 -f '$old_exc' -o /dev/null"
check "the old binding still decrypts" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe-old' | cmp - '$TEST_DIR/plain'"
check "a new binding" \
	sh -c "clevis encrypt tang '{\"url\":\"$URL\",\"thp\":\"$new_sig\"}' <'$TEST_DIR/plain' >'$TEST_DIR/jwe-new'"
check_eq "... uses the new exchange key" \
	"$(key_thps "$keys" deriveKey)" "$(jwe_kid "$TEST_DIR/jwe-new")"
check "... and decrypts" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe-new' | cmp - '$TEST_DIR/plain'"
check "the log says the directory change reloaded the keys" \
	grep -q 'reloaded keys (directory changed): 2 advertised, 4 in all' \
	"$TEST_DIR/srv.log"

kill -HUP "$srv_PID"
check "SIGHUP reloads the keys" \
	wait_for "reload line" grep -q 'reloaded keys (SIGHUP)' "$TEST_DIR/srv.log"

# A directory left with no advertised signing key is served as it is, as
# tangd serves it: no advertisement (500), recoveries still work.
mv "$keys/$new_sig.jwk" "$keys/.$new_sig.jwk"
check_eq "a directory with no advertised signing key: GET /adv is 500" \
	500 "$(http_status GET "$URL/adv")"
check "... the log says why" \
	grep -q 'no advertised key signs' "$TEST_DIR/srv.log"
check "... and bindings still decrypt" \
	sh -c "clevis decrypt <'$TEST_DIR/jwe-new' | cmp - '$TEST_DIR/plain'"
mv "$keys/.$new_sig.jwk" "$keys/$new_sig.jwk"
check_eq "... and once it is back, /adv is served again" \
	"$new_sig" "$(adv_signing_thps "$URL")"
check "tetherd is still running" kill -0 "$srv_PID"
check_log_clean srv "$srv_PID"

done_testing

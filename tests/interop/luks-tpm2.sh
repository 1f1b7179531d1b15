#!/usr/bin/env bash
# LUKS2 volumes bound to a TPM (swtpm on loopback) with a PCR policy: a
# binding tether makes opens through the token plugin (cryptsetup, no
# passphrase), with `tether luks pass` and with `clevis luks pass`; one
# clevis makes opens with tether; a PCR extended after binding stops every
# way, tether naming the bank and index; `tether luks regen` with the
# passphrase seals the slot again to the PCRs as they are, and it opens
# again; sss t=1 of {tpm2, tang} opens with the server down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the plugin}"
. "$(dirname "$0")/luks-lib.sh"
. "$(dirname "$0")/swtpm-lib.sh"
lend_token_plugin

token_open() { # IMAGE: opens through tokens only, no passphrase
	with_plugin timeout 60 cryptsetup open --test-passphrase --token-only \
		"$TEST_DIR/$1" </dev/null
}

# clevis's tpm2-tools leave sessions loaded, and swtpm has no resource
# manager to flush them: flushed after every clevis run.
flushed() {
	local rc=0
	"$@" || rc=$?
	tpm2_flushcontext -t >/dev/null 2>&1
	tpm2_flushcontext -l >/dev/null 2>&1
	return "$rc"
}

# clevis_pass_opens IMAGE SLOT: clevis luks pass recovers SLOT's key.
clevis_pass_opens() {
	flushed timeout "$TB" clevis luks pass -d "$TEST_DIR/$1" -s "$2" \
		>"$TEST_DIR/cp" 2>/dev/null && opens_with "$1" "$(cat "$TEST_DIR/cp")" "$2"
}

use_swtpm
POLICY='{"pcr_bank":"sha256","pcr_ids":"16"}'

# ------------------------------------------------ tether's binding
new_image t.img
check "tether luks bind tpm2 (PCR 16, sha256)" sh -c "printf '%s\n' '$PASS' |
	'$TETHER' luks bind -d '$TEST_DIR/t.img' -s 1 -k - tpm2 '$POLICY'"
check "cryptsetup opens it through the token plugin, no passphrase" token_open t.img
check "tether luks pass recovers slot 1's key" pass_opens t.img 1
check "clevis luks pass recovers it too" clevis_pass_opens t.img 1
tl list -d "$TEST_DIR/t.img"
check_eq "tether luks list shows the binding as clevis does" \
	"1: tpm2 '{\"hash\":\"sha256\",\"key\":\"ecc\",\"pcr_bank\":\"sha256\",\"pcr_ids\":\"16\"}'" \
	"$(cat "$TEST_DIR/out")"

# ------------------------------------------------ clevis's binding
new_image c.img
check "clevis luks bind tpm2 (PCR 16, sha256)" flushed sh -c "printf '%s\n' '$PASS' |
	clevis luks bind -d '$TEST_DIR/c.img' -s 1 -k - tpm2 '$POLICY'"
check "cryptsetup opens clevis's through the token plugin" token_open c.img
check "tether luks pass recovers clevis's key" pass_opens c.img 1

# ------------------------------------------------ PCR 16 extended
tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000001 \
	>"$TEST_DIR/err" 2>&1 || not_ok "tpm2_pcrextend 16" "$(cat "$TEST_DIR/err")"
for img in t c; do
	if token_open "$img.img" >/dev/null 2>&1; then
		not_ok "PCR 16 extended: the token plugin no longer opens $img.img"
	else
		ok "PCR 16 extended: the token plugin no longer opens $img.img"
	fi
	tl pass -d "$TEST_DIR/$img.img" -s 1
	expect_failed "PCR 16 extended: tether luks pass of $img.img fails, naming sha256:16" \
		"$TEST_DIR/out" "PCRs sha256:16 changed since the binding"
done
if clevis_pass_opens t.img 1; then
	not_ok "PCR 16 extended: clevis luks pass fails too"
else
	ok "PCR 16 extended: clevis luks pass fails too"
fi

# regen: the old binding no longer recovers, so the passphrase is asked
# for, and the slot is sealed to PCR 16 as it is now.
printf '%s' "$PASS" >"$TEST_DIR/pass"
IN=/dev/null tl regen -d "$TEST_DIR/t.img" -s 1 -q -k "$TEST_DIR/pass"
expect_ok "tether luks regen -k seals slot 1 again, to PCR 16 as it is now"
check "... and the token plugin opens it again" token_open t.img
check "... and so does clevis luks pass" clevis_pass_opens t.img 1
check "... and the passphrase still opens slot 0" opens_with t.img "$PASS" 0

# ------------------------------------------------ sss: TPM or server
mkdir -m 0700 "$TEST_DIR/keys"
start_tetherd srv "$TEST_DIR/keys" || not_ok "tetherd starts"
thp=$(key_thps "$TEST_DIR/keys" verify)
new_image s.img
check "tether luks bind sss t=1 of {tpm2, tang}" sh -c "printf '%s\n' '$PASS' |
	'$TETHER' luks bind -d '$TEST_DIR/s.img' -s 1 -k - sss \
	'{\"t\":1,\"pins\":{\"tpm2\":{},\"tang\":{\"url\":\"$URL\",\"thp\":\"$thp\"}}}'"
# shellcheck disable=SC2154
stop_pid "$srv_PID"
check "server down: the token plugin opens it with the TPM" token_open s.img
check "server down: tether luks pass recovers it" pass_opens s.img 1

done_testing

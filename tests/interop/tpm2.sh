#!/usr/bin/env bash
# tether's tpm2 pin against Debian's clevis-tpm2 on a software TPM (swtpm)
# on loopback: each tool decrypts what the other encrypted, without and
# with a PCR policy (and clevis's defaults, rsa, pcr_digest); the headers
# carry the same members; a PCR extended after binding makes both refuse,
# and tether names the bank and the indices; the key never crosses the
# connection to the TPM in clear; another TPM cannot unseal;
# sss t=1 of {tpm2, tang} decrypts with the server down and t=2 does not;
# clear errors for no TPM and unsupported algorithms; and tether leaves no
# handle loaded in a TPM that has no resource manager.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/swtpm-lib.sh"

# tpm2_hdr JWE: the clevis.tpm2 member of a compact JWE's header.
tpm2_hdr() {
	cut -d. -f1 "$1" | jose b64 dec -i- | jq -c '.clevis.tpm2'
}

# both_ways NAME CONFIG: each tool encrypts with CONFIG and each decrypts
# both JWEs; the two headers name the same members with the same values
# (but the sealed parts). Leaves $d/NAME-tether.jwe and $d/NAME-clevis.jwe.
both_ways() {
	local name=$1 cfg=$2 maker a b
	trun "$PLAIN" "$d/$name-tether.jwe" encrypt tpm2 "$cfg"
	expect_ok "$name: tether encrypt tpm2 '$cfg'"
	clevis_encrypt "$name: clevis encrypt tpm2 '$cfg'" tpm2 "$cfg" \
		"$d/$name-clevis.jwe"
	for maker in tether clevis; do
		recovers "$name: tether decrypts $maker's JWE" tether "$d/$name-$maker.jwe"
		recovers "$name: clevis decrypts $maker's JWE" clevis "$d/$name-$maker.jwe"
	done
	a=$(tpm2_hdr "$d/$name-tether.jwe" | jq -c 'del(.jwk_pub, .jwk_priv)')
	b=$(tpm2_hdr "$d/$name-clevis.jwe" | jq -c 'del(.jwk_pub, .jwk_priv)')
	check_eq "$name: both headers hold the same clevis.tpm2 (but the sealed key)" \
		"$b" "$a"
}

# handles_left: what tether left loaded in the TPM (no resource manager
# flushes for it), as tpm2_getcap lists it; empty when nothing.
handles_left() {
	tpm2_getcap handles-transient 2>&1
	tpm2_getcap handles-loaded-session 2>&1
}

PLAIN=$TEST_DIR/plain
{
	printf '\0\n\r\377tpm2\0'
	head -c 3000 /dev/urandom
} >"$PLAIN"
d=$TEST_DIR/jwe
mkdir "$d"

use_swtpm

# clevis's tpm2-tools leave policy sessions loaded (a kernel resource
# manager flushes them when the process ends; swtpm has none), and a TPM
# holds three: so clevis runs here through a wrapper that flushes after
# it. clevis's sss returns, or gives up, with shares still at work, so
# the wrapper first waits (10 s at most) for every process of the session
# it starts; the pins sss runs run clevis again: only the outermost
# wraps. Whatever is loaded when tether has run is tether's.
mkdir "$TEST_DIR/bin"
cat >"$TEST_DIR/bin/clevis" <<EOF
#!/bin/sh
[ -z "\${TPM2_TEST_NESTED:-}" ] || exec $(command -v clevis) "\$@"
export TPM2_TEST_NESTED=1
exec setsid -w sh -c '
	rc=0
	"\$0" "\$@" || rc=\$?
	i=0
	while [ \$i -lt 100 ] && pgrep -s \$\$ >"$TEST_DIR/pgrep.\$\$" &&
		grep -vxq "\$\$" "$TEST_DIR/pgrep.\$\$"; do
		sleep 0.1
		i=\$((i + 1))
	done
	rm -f "$TEST_DIR/pgrep.\$\$"
	tpm2_flushcontext -t >/dev/null 2>&1
	tpm2_flushcontext -l >/dev/null 2>&1
	exit \$rc' $(command -v clevis) "\$@"
EOF
chmod +x "$TEST_DIR/bin/clevis"
PATH=$TEST_DIR/bin:$PATH

# ------------------------------------------------------ both directions

both_ways plain '{}'
for maker in tether clevis; do
	check_eq "plain: no PCR policy in $maker's header" "" \
		"$(tpm2_hdr "$d/plain-$maker.jwe" | jq -r '[keys[] | select(startswith("pcr"))] | join(",")')"
done
both_ways pcr '{"pcr_bank":"sha256","pcr_ids":"7,16"}'
check_eq "pcr: the header spells the indices as clevis does" '"7,16"' \
	"$(tpm2_hdr "$d/pcr-tether.jwe" | jq -c .pcr_ids)"
# clevis's default bank is sha1, and its default hash sha256.
both_ways sha1-bank '{"pcr_ids":[16]}'
check_eq "sha1-bank: pcr_bank defaults to sha1 as clevis's does" '"sha1"' \
	"$(tpm2_hdr "$d/sha1-bank-tether.jwe" | jq -c .pcr_bank)"
both_ways rsa '{"key":"rsa","hash":"sha384"}'

# The PCR values given instead of read: tpm2_pcrread -o writes them as
# clevis's pcr_digest wants them.
tpm2_pcrread -Q sha256:16 -o "$d/pcr16" 2>"$TEST_DIR/err"
digest=$(jose b64 enc -I "$d/pcr16")
both_ways pcr-digest "{\"pcr_bank\":\"sha256\",\"pcr_ids\":\"16\",\"pcr_digest\":\"$digest\"}"
printf '\1%.0s' $(seq 1 32) >"$d/pcr16-other"
other=$(jose b64 enc -I "$d/pcr16-other")
trun "$PLAIN" "$d/other.jwe" encrypt tpm2 \
	"{\"pcr_bank\":\"sha256\",\"pcr_ids\":\"16\",\"pcr_digest\":\"$other\"}"
expect_ok "tether encrypt tpm2 sealed to PCR values other than the TPM's"
trun "$d/other.jwe" "$d/other.out" decrypt
expect_refused "... tether cannot unseal it, naming sha256:16" "$d/other.out" \
	"PCRs sha256:16 changed since the binding"
clevis_fails "... nor can clevis" "$d/other.jwe"

# ------------------------------------------------ a PCR extended after

tpm2_pcrextend 16:sha256=0000000000000000000000000000000000000000000000000000000000000001,sha1=0000000000000000000000000000000000000001 \
	>"$TEST_DIR/err" 2>&1 || not_ok "tpm2_pcrextend 16" "$(cat "$TEST_DIR/err")"
for maker in tether clevis; do
	trun "$d/pcr-$maker.jwe" "$d/pcr-$maker.out" decrypt
	expect_refused "PCR 16 extended: tether refuses $maker's sha256:7,16 JWE, naming bank and indices" \
		"$d/pcr-$maker.out" "PCRs sha256:7,16 changed since the binding"
	clevis_fails "PCR 16 extended: clevis refuses $maker's sha256:7,16 JWE" "$d/pcr-$maker.jwe"
	trun "$d/sha1-bank-$maker.jwe" "$d/sha1-$maker.out" decrypt
	expect_refused "PCR 16 extended: tether refuses $maker's sha1:16 JWE" \
		"$d/sha1-$maker.out" "PCRs sha1:16 changed since the binding"
	recovers "PCR 16 extended: $maker's JWE without a policy still decrypts" \
		tether "$d/plain-$maker.jwe"
done
tpm2_pcrreset 16 >"$TEST_DIR/err" 2>&1 || not_ok "tpm2_pcrreset 16" "$(cat "$TEST_DIR/err")"
recovers "PCR 16 reset to its value at binding: tether decrypts again" \
	tether "$d/pcr-clevis.jwe"
check_eq "no handle left loaded by tether in the TPM (it has no resource manager)" \
	"" "$(handles_left)"

# ------------------------------------------------ the key on the wire

# The sealed key is a JWK ({"alg":"A256GCM","k":...,"kty":"oct"}): in
# what tether exchanges with the TPM it must never be seen in clear
# (clevis's tpm2-tools send it so, and a bus can be sniffed). strace
# records every byte tether reads and writes (an ASan build's leak check
# cannot run under ptrace: off for these runs only).
printf 'a key on the bus' >"$d/bus.plain"
for cfg in '{}' '{"pcr_bank":"sha256","pcr_ids":"7"}'; do
	rc=0
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout "$TBOUND" strace -f -qq -s 65536 -o "$d/bus.enc" \
		-e trace=read,write,sendto,recvfrom,sendmsg,recvmsg \
		"$TETHER" encrypt tpm2 "$cfg" <"$d/bus.plain" >"$d/bus.jwe" 2>"$d/bus.err" || rc=$?
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		timeout "$TBOUND" strace -f -qq -s 65536 -o "$d/bus.dec" \
		-e trace=read,write,sendto,recvfrom,sendmsg,recvmsg \
		"$TETHER" decrypt <"$d/bus.jwe" >"$d/bus.out" 2>>"$d/bus.err" || rc=$?
	if [ "$rc" -ne 0 ] || ! cmp -s "$d/bus.out" "$d/bus.plain"; then
		not_ok "tpm2 '$cfg' under strace: encrypt and decrypt work" \
			"exit status $rc" "$(head -c 1000 "$d/bus.err")"
	elif grep -q 'kty' "$d/bus.enc" "$d/bus.dec"; then
		not_ok "tpm2 '$cfg': the key never crosses to or from the TPM in clear" \
			"$(grep -h 'kty' "$d/bus.enc" "$d/bus.dec" | head -c 600)"
	else
		ok "tpm2 '$cfg': the key never crosses to or from the TPM in clear"
	fi
done

# --------------------------------------------------------- errors

port=$(free_port)
TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$port trun "$PLAIN" "$d/none.jwe" encrypt tpm2 '{}'
expect_refused "no TPM listening: encrypt says so, naming the TCTI" "$d/none.jwe" \
	"no TPM at swtpm:host=127\\.0\\.0\\.1,port=$port"
TPM2TOOLS_TCTI=swtpm:host=127.0.0.1,port=$port trun "$d/plain-clevis.jwe" "$d/none.out" decrypt
expect_refused "no TPM listening: decrypt says so" "$d/none.out" "no TPM at swtpm:"
if [ ! -e /dev/tpmrm0 ]; then
	TPM2TOOLS_TCTI='' trun "$PLAIN" "$d/none.jwe" encrypt tpm2 '{}'
	expect_refused "TPM2TOOLS_TCTI unset: the kernel's resource manager, absent here" \
		"$d/none.jwe" "no TPM at device:/dev/tpmrm0"
fi
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 '{"hash":"md5"}'
expect_refused "hash md5: an unsupported algorithm, named" "$d/bad.jwe" \
	"unsupported algorithm 'md5'"
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 '{"key":"keyedhash"}'
expect_refused "key keyedhash (cannot hold a sealed object): unsupported" \
	"$d/bad.jwe" "unsupported algorithm 'keyedhash'"
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 '{"hash":"sm3_256"}'
expect_refused "hash sm3_256, which this TPM lacks: the TPM's refusal is said" \
	"$d/bad.jwe" "does not support the algorithm"
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 '{"pcr_bank":"sha256","pcr_ids":"0,1,2,3,4,5,6,7,8"}'
expect_refused "nine PCRs: refused, as clevis's tpm2-tools cannot unseal them" \
	"$d/bad.jwe" "at most 8 PCRs"
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 '{"pcr_ids":"24"}'
expect_refused "PCR 24: refused" "$d/bad.jwe" "from 0 to 23"
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 '{"pcr_ids":"010"}'
expect_refused "PCR 010 (octal 8 to tpm2-tools): refused" "$d/bad.jwe" "from 0 to 23"
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 '{"pcr_id":"7"}'
expect_refused "a misspelt member is refused, not ignored into no policy" \
	"$d/bad.jwe" "unknown configuration member 'pcr_id'"
trun "$PLAIN" "$d/bad.jwe" encrypt tpm2 "{\"pcr_ids\":\"16\",\"pcr_bank\":\"sha1\",\"pcr_digest\":\"$digest\"}"
expect_refused "a pcr_digest of the wrong length for the bank: refused" \
	"$d/bad.jwe" "'pcr_digest' must be the 1 selected sha1 PCR values, 20 bytes"

# A header whose sealed public part is cut short.
hdr=$(cut -d. -f1 "$d/plain-clevis.jwe" | jose b64 dec -i- |
	jq -c '.clevis.tpm2.jwk_pub |= .[0:20]' | jose b64 enc -I-)
printf '%s.%s' "$hdr" "$(cut -d. -f2- "$d/plain-clevis.jwe")" >"$d/cut.jwe"
trun "$d/cut.jwe" "$d/cut.out" decrypt
expect_refused "jwk_pub cut short: a malformed JWE, said in one line" \
	"$d/cut.out" "malformed"

# Another TPM: its owner seed differs, so the primary key does.
if start_swtpm other; then
	# shellcheck disable=SC2154
	TPM2TOOLS_TCTI=$other_TCTI trun "$d/plain-clevis.jwe" "$d/other-tpm.out" decrypt
	expect_refused "another TPM cannot unseal the key, and says why" \
		"$d/other-tpm.out" "sealed by another TPM"
	# shellcheck disable=SC2154
	stop_pid "$other_PID"
else
	not_ok "a second swtpm starts" "$(tail -n 5 "$TEST_DIR/other.log" 2>&1)"
fi

# ------------------------------------------------ sss of tpm2 and tang

mkdir -m 0700 "$TEST_DIR/keys"
start_tetherd srv "$TEST_DIR/keys" || not_ok "tetherd starts" "$(tail -n 5 "$TEST_DIR/srv.log")"
thp=$(key_thps "$TEST_DIR/keys" verify)
TANG="{\"url\":\"$URL\",\"thp\":\"$thp\"}"
for t in 1 2; do
	cfg="{\"t\":$t,\"pins\":{\"tpm2\":{\"pcr_bank\":\"sha256\",\"pcr_ids\":\"7\"},\"tang\":$TANG}}"
	trun "$PLAIN" "$d/sss$t-tether.jwe" encrypt sss "$cfg"
	expect_ok "tether encrypt sss t=$t of {tpm2, tang}"
	clevis_encrypt "clevis encrypt sss t=$t of {tpm2, tang}" sss "$cfg" "$d/sss$t-clevis.jwe"
done
for maker in tether clevis; do
	recovers "sss t=2, server up: tether decrypts $maker's" tether "$d/sss2-$maker.jwe"
	recovers "sss t=2, server up: clevis decrypts $maker's" clevis "$d/sss2-$maker.jwe"
done
# shellcheck disable=SC2154
stop_pid "$srv_PID"
for maker in tether clevis; do
	recovers "sss t=1, server down: tether decrypts $maker's with the TPM" \
		tether "$d/sss1-$maker.jwe"
	recovers "sss t=1, server down: clevis decrypts $maker's with the TPM" \
		clevis "$d/sss1-$maker.jwe"
	trun "$d/sss2-$maker.jwe" "$d/sss2-$maker.out" decrypt
	expect_failed "sss t=2, server down: tether fails on $maker's, the TPM alone is not enough" \
		"$d/sss2-$maker.out" "1 of 2 shares recovered, 2 needed"
	clevis_fails "sss t=2, server down: clevis fails on $maker's" "$d/sss2-$maker.jwe"
done

# Two TPM shares: sss asks them from two threads, and swtpm, with no
# resource manager, holds three objects, fewer than two conversations
# load at once (clevis, which runs both at once, fails here).
cfg='{"t":2,"pins":{"tpm2":[{},{"key":"rsa"}]}}'
trun "$PLAIN" "$d/two.jwe" encrypt sss "$cfg"
expect_ok "tether encrypt sss t=2 of two tpm2 shares"
recovers "sss of two tpm2 shares: tether decrypts (one after the other)" \
	tether "$d/two.jwe"
trun "$d/sss2-tether.jwe" "$d/sss2.out" decrypt
trun "$d/two.jwe" "$d/two.out" decrypt
check_eq "no handle left by tether after a failed sss and a threaded one" \
	"" "$(handles_left)"
done_testing

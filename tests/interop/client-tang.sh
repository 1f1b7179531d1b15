#!/usr/bin/env bash
# tether's tang pin against Debian's real tangd and against tetherd, both
# ways with Debian's clevis: online, offline from a saved advertisement,
# trust on first use and the terminal prompt; empty to large plaintexts.
# Tampered, truncated and unknown JWEs are refused with nothing written;
# every network failure names the server and the cause; tampered
# advertisements and malformed server replies are refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"

# A binary plaintext: NUL, newlines, CR, 0xff and random bytes.
PLAIN=$TEST_DIR/plain
{
	printf '\0\n\r\377abc\0'
	head -c 3000 /dev/urandom
	printf '\n\0'
} >"$PLAIN"
: >"$TEST_DIR/empty"

# start_server KIND NAME KEYDIR: KIND is tangd or tetherd (on $WANT_PORT
# if set); sets URL PORT and NAME_PID like start_tetherd.
start_server() {
	case $1 in
	tangd) start_tangd "$2" "$3" ;;
	tetherd) start_tetherd "$2" "$3" ;;
	esac
}

# jwe_part FILE INDEX: the INDEXth (0-4) part of a compact JWE.
jwe_part() {
	cut -d. -f"$(($2 + 1))" "$1"
}

# jwe_with FILE INDEX B64: the JWE in FILE with part INDEX replaced.
jwe_with() {
	local parts
	IFS=. read -r -a parts <"$1"
	parts[$2]=$3
	(
		IFS=.
		printf '%s\n' "${parts[*]}"
	)
}

# flip_byte B64: base64url of the decoded bytes with the middle byte's low
# bit flipped, the same length.
flip_byte() {
	local bin=$TEST_DIR/flip.bin n off byte
	printf '%s' "$1" | jose b64 dec -i- -O "$bin" || return 1
	n=$(stat -c %s "$bin")
	[ "$n" -gt 0 ] || return 1
	off=$((n / 2))
	byte=$(od -An -tu1 -j "$off" -N 1 "$bin" | tr -d ' ')
	# shellcheck disable=SC2059
	printf "\\$(printf %03o $((byte ^ 1)))" |
		dd of="$bin" bs=1 seek="$off" conv=notrunc status=none
	jose b64 enc -I "$bin"
}

b64_of() { # TEXT: base64url of TEXT
	printf '%s' "$1" | jose b64 enc -I-
}

# ---------------------------------------------------------------- servers

mkdir -m 0700 "$TEST_DIR/td-keys" "$TEST_DIR/tg-keys"
"$TANGD_KEYGEN" "$TEST_DIR/tg-keys" >/dev/null 2>&1
WANT_PORT=$(free_port) start_tangd tg "$TEST_DIR/tg-keys" || {
	not_ok "tangd starts"
	done_testing
	exit 1
}
TG_URL=$URL TG_PORT=$PORT
WANT_PORT=$(free_port) start_tetherd td "$TEST_DIR/td-keys" || {
	not_ok "tetherd starts"
	done_testing
	exit 1
}
TD_URL=$URL TD_PORT=$PORT
ok "tangd and tetherd start"

# ------------------------------------------- per server: tangd, tetherd

for kind in tangd tetherd; do
	if [ "$kind" = tangd ]; then
		name=tg url=$TG_URL port=$TG_PORT keys=$TEST_DIR/tg-keys
	else
		name=td url=$TD_URL port=$TD_PORT keys=$TEST_DIR/td-keys
	fi
	d=$TEST_DIR/$kind
	mkdir "$d"
	thp=$(key_thps "$keys" verify)
	exc=$(key_thps "$keys" deriveKey)
	cfg="{\"url\":\"$url\",\"thp\":\"$thp\"}"

	# tether adv agrees with the key files, tang-show-keys and keys list.
	trun "$TEST_DIR/empty" "$d/adv.out" adv "$url"
	expect_ok "$kind: tether adv succeeds"
	check_eq "$kind: tether adv's signing S256 thumbprint is tang-show-keys'" \
		"$(tang-show-keys "$port" 2>&1)" \
		"$(awk '$1 == "signing" { print $3 }' "$d/adv.out")"
	check_eq "$kind: ... and the key file's" "$thp" \
		"$(awk '$1 == "signing" { print $3 }' "$d/adv.out")"
	if [ "$kind" = tetherd ]; then
		check_eq "$kind: ... and what tetherd keys list prints" \
			"$("$TETHERD" keys list --keys "$keys" 2>&1)" \
			"$(awk '$1 == "signing" { print $3 }' "$d/adv.out")"
	fi
	sig_file=$keys/$thp.jwk
	check_eq "$kind: tether adv's signing S1 thumbprint is jose's" \
		"$(jose jwk thp -i "$sig_file" -a S1)" \
		"$(awk '$1 == "signing" { print $5 }' "$d/adv.out")"
	check_eq "$kind: tether adv's exchange S256 thumbprint is the key file's" \
		"$exc" "$(awk '$1 == "exchange" { print $3 }' "$d/adv.out")"
	check_eq "$kind: tether adv shows one signing and one exchange key, P-521" \
		"exchange P-521,signing P-521," \
		"$(awk '{ print $1, $NF }' "$d/adv.out" | sort | tr '\n' ,)"

	# tether encrypts, clevis and tether decrypt.
	trun "$PLAIN" "$d/t.jwe" encrypt tang "$cfg"
	expect_ok "$kind: tether encrypt tang with thp"
	check_eq "$kind: tether's binding names the server's exchange key" \
		"$exc" "$(jwe_kid "$d/t.jwe" 2>&1)"
	recovers "$kind: clevis decrypt recovers tether's JWE" clevis "$d/t.jwe"
	recovers "$kind: tether decrypt recovers tether's JWE" tether "$d/t.jwe"

	# clevis encrypts, tether decrypts.
	check "$kind: clevis encrypt tang with thp" \
		sh -c "clevis encrypt tang '$cfg' <'$PLAIN' >'$d/c.jwe'"
	recovers "$kind: tether decrypt recovers clevis's JWE" tether "$d/c.jwe"

	# -y: trust on first use.
	trun "$PLAIN" "$d/y.jwe" encrypt tang "{\"url\":\"$url\"}" -y
	expect_ok "$kind: tether encrypt tang -y"
	recovers "$kind: ... clevis decrypts it" clevis "$d/y.jwe"

	# A trailing slash in the URL.
	trun "$PLAIN" "$d/slash.jwe" encrypt tang "{\"url\":\"$url/\",\"thp\":\"$thp\"}"
	expect_ok "$kind: tether encrypt tang with a trailing slash in the url"
	recovers "$kind: ... tether decrypts it" tether "$d/slash.jwe"
	recovers "$kind: ... clevis decrypts it" clevis "$d/slash.jwe"
	trun "$TEST_DIR/empty" "$d/adv-slash.out" adv "$url/"
	check_eq "$kind: tether adv with a trailing slash shows the same keys" \
		"$(cat "$d/adv.out")" "$(cat "$d/adv-slash.out")"

	# Offline: from a saved advertisement, as a file and inline, with the
	# server stopped so that no request can be made.
	curl -sSf --max-time 10 "$url/adv" >"$d/adv.json"
	pid_var=${name}_PID
	stop_pid "${!pid_var}"
	check "$kind: (the server is stopped)" \
		sh -c "! curl -s --max-time 5 -o /dev/null '$url/adv'"
	trun "$PLAIN" "$d/off-file.jwe" encrypt tang \
		"{\"url\":\"$url\",\"adv\":\"$d/adv.json\"}"
	expect_ok "$kind: offline tether encrypt with adv as a file"
	trun "$PLAIN" "$d/off-obj.jwe" encrypt tang \
		"{\"url\":\"$url\",\"adv\":$(cat "$d/adv.json")}"
	expect_ok "$kind: offline tether encrypt with adv as a JSON object"
	trun "$PLAIN" "$d/off-thp.jwe" encrypt tang \
		"{\"url\":\"$url\",\"thp\":\"$thp\",\"adv\":\"$d/adv.json\"}"
	expect_ok "$kind: offline tether encrypt with adv and a matching thp"
	# thp names a key of the advertisement, but not a signing key.
	trun "$PLAIN" "$d/off-exc.out" encrypt tang \
		"{\"url\":\"$url\",\"thp\":\"$exc\",\"adv\":\"$d/adv.json\"}"
	expect_refused "$kind: offline encrypt refuses a thp naming the exchange key" \
		"$d/off-exc.out" "thp"
	trun "$PLAIN" "$d/off-bad.out" encrypt tang \
		"{\"url\":\"$url\",\"thp\":\"${thp%?????}AAAAA\",\"adv\":\"$d/adv.json\"}"
	expect_refused "$kind: offline encrypt refuses a wrong thp, naming it" \
		"$d/off-bad.out" "${thp%?????}AAAAA"
	trun "$d/off-file.jwe" "$d/down.out" decrypt
	expect_refused "$kind: with the server stopped, tether decrypt fails naming the address" \
		"$d/down.out" "127\.0\.0\.1:$port.*[Rr]efused"
	WANT_PORT=$port start_server "$kind" "$name" "$keys" ||
		not_ok "$kind restarts on port $port" \
			"$(ss -Htanp "sport = :$port" 2>&1)" \
			"$(tail -n 3 "$TEST_DIR/$name.log")"
	recovers "$kind: the file-adv offline JWE decrypts with tether" tether "$d/off-file.jwe"
	recovers "$kind: ... and with clevis" clevis "$d/off-file.jwe"
	recovers "$kind: the inline-adv offline JWE decrypts with tether" tether "$d/off-obj.jwe"
	recovers "$kind: ... and with clevis" clevis "$d/off-obj.jwe"
	recovers "$kind: the adv+thp offline JWE decrypts with clevis" clevis "$d/off-thp.jwe"

	# The trust prompt on a terminal: y binds, n refuses.
	printf 'y\n' | timeout "$TBOUND" script -qec \
		"'$TETHER' encrypt tang '{\"url\":\"$url\"}' <'$PLAIN' >'$d/prompt-y.jwe' 2>'$d/prompt-y.err'" \
		/dev/null >"$d/prompt-y.tty" 2>&1
	rc=$?
	check_eq "$kind: answering y to the trust prompt: exit 0" 0 "$rc"
	check "$kind: ... the prompt was shown on the terminal" \
		grep -q 'Do you wish to trust these keys? \[ynYN\]' "$d/prompt-y.tty"
	check "$kind: ... the terminal showed the signing key's thumbprint" \
		grep -q -- "$thp" "$d/prompt-y.tty"
	recovers "$kind: ... and the JWE decrypts with clevis" clevis "$d/prompt-y.jwe"

	printf 'n\n' | timeout "$TBOUND" script -qec \
		"'$TETHER' encrypt tang '{\"url\":\"$url\"}' <'$PLAIN' >'$d/prompt-n.jwe' 2>'$d/prompt-n.err'" \
		/dev/null >"$d/prompt-n.tty" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
		ok "$kind: answering n to the trust prompt refuses"
	else
		not_ok "$kind: answering n to the trust prompt refuses" "exit status $rc" \
			"terminal: $(tr -d '\r' <"$d/prompt-n.tty" | tail -n 3)"
	fi
	check "$kind: ... the prompt was shown" \
		grep -q 'Do you wish to trust these keys? \[ynYN\]' "$d/prompt-n.tty"
	check "$kind: ... and nothing was written" test ! -s "$d/prompt-n.jwe"

	# Y counts as yes; anything but y or Y is no.
	for ans in Y maybe ''; do
		rm -f "$d/prompt.jwe"
		printf '%s\n' "$ans" | timeout "$TBOUND" script -qec \
			"'$TETHER' encrypt tang '{\"url\":\"$url\"}' <'$PLAIN' >'$d/prompt.jwe' 2>/dev/null" \
			/dev/null >/dev/null 2>&1
		rc=$?
		if [ "$ans" = Y ]; then
			check_eq "$kind: answering Y to the trust prompt binds" 0 "$rc"
			recovers "$kind: ... and the JWE decrypts" tether "$d/prompt.jwe"
		elif [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ ! -s "$d/prompt.jwe" ]; then
			ok "$kind: answering '$ans' to the trust prompt refuses, nothing written"
		else
			not_ok "$kind: answering '$ans' to the trust prompt refuses, nothing written" \
				"exit status $rc, $(wc -c <"$d/prompt.jwe") bytes written"
		fi
	done

	# With no terminal at all, there is nobody to ask: refuse, do not hang.
	RC=0
	timeout "$TBOUND" setsid -w "$TETHER" encrypt tang "{\"url\":\"$url\"}" \
		<"$PLAIN" >"$d/notty.out" 2>"$TEST_DIR/err" || RC=$?
	ERR=$(cat "$TEST_DIR/err")
	expect_refused "$kind: without thp, adv, -y or a terminal, encrypt refuses" \
		"$d/notty.out" "."

	# A wrong thp (online) is refused and named.
	bad_thp=${thp%?????}AAAAA
	[ "$bad_thp" != "$thp" ] || bad_thp=${thp%?????}BBBBB
	trun "$PLAIN" "$d/badthp.out" encrypt tang "{\"url\":\"$url\",\"thp\":\"$bad_thp\"}"
	expect_refused "$kind: a wrong thp is refused, naming it" "$d/badthp.out" "$bad_thp"
done

# ------------------------------------------------- JWEs that must not open

d=$TEST_DIR/bad
mkdir "$d"
thp=$(key_thps "$TEST_DIR/td-keys" verify)
trun "$PLAIN" "$d/good.jwe" encrypt tang "{\"url\":\"$TD_URL\",\"thp\":\"$thp\"}"
expect_ok "a JWE to tamper with"
check_eq "it is compact: five parts" 5 \
	"$(tr -cd . <"$d/good.jwe" | wc -c | awk '{ print $1 + 1 }')"
check_eq "its second part (the encrypted key) is empty, as for ECDH-ES" "" \
	"$(jwe_part "$d/good.jwe" 1)"
recovers "the untampered JWE decrypts" tether "$d/good.jwe"

names=(header "encrypted key" iv ciphertext tag)
for i in 0 2 3 4; do
	part=$(jwe_part "$d/good.jwe" "$i")
	new=$(flip_byte "$part")
	if [ -z "$new" ] || [ "$new" = "$part" ]; then
		not_ok "a byte of the ${names[$i]} flips" "could not build it"
		continue
	fi
	jwe_with "$d/good.jwe" "$i" "$new" >"$d/flip$i.jwe"
	trun "$d/flip$i.jwe" "$d/flip$i.out" decrypt
	expect_refused "one byte flipped in the ${names[$i]}: refused, nothing written" \
		"$d/flip$i.out" "."
done
jwe_with "$d/good.jwe" 1 "$(b64_of 'sixteen-byte-key')" >"$d/flip1.jwe"
trun "$d/flip1.jwe" "$d/flip1.out" decrypt
expect_refused "a non-empty encrypted key part: refused, nothing written" \
	"$d/flip1.out" "."

# A header still valid and still naming the same server and keys, with one
# more member: only the tag (the header is the AAD) can catch it.
hdr=$(jwe_part "$d/good.jwe" 0 | jose b64 dec -i-)
hdr2="{\"zz\":1,${hdr#\{}"
jwe_with "$d/good.jwe" 0 "$(b64_of "$hdr2")" >"$d/hdr-member.jwe"
trun "$d/hdr-member.jwe" "$d/hdr-member.out" decrypt
expect_refused "a header with one more member (authenticated data changed): refused" \
	"$d/hdr-member.out" "."

len=$(wc -c <"$d/good.jwe")
head -c 100 "$d/good.jwe" >"$d/trunc-100.jwe"
head -c $((len / 2)) "$d/good.jwe" >"$d/trunc-half.jwe"
head -c $((len - 6)) "$d/good.jwe" >"$d/trunc-tag.jwe"
sed 's/\.[^.]*$//' "$d/good.jwe" >"$d/trunc-4parts.jwe"
for t in 100 half tag 4parts; do
	trun "$d/trunc-$t.jwe" "$d/trunc-$t.out" decrypt
	expect_refused "a truncated JWE ($t): refused, nothing written" \
		"$d/trunc-$t.out" "."
done
trun "$TEST_DIR/empty" "$d/emptyin.out" decrypt
expect_refused "empty input: refused" "$d/emptyin.out" "."
printf 'not a jwe at all\n' >"$d/garbage.jwe"
trun "$d/garbage.jwe" "$d/garbage.out" decrypt
expect_refused "garbage input: refused as a malformed JWE" "$d/garbage.out" "[Mm]alformed"

case $hdr in
*'"pin":"tang"'*)
	hdr_tpm=${hdr//\"pin\":\"tang\"/\"pin\":\"tpm9\"}
	jwe_with "$d/good.jwe" 0 "$(b64_of "$hdr_tpm")" >"$d/tpm9.jwe"
	trun "$d/tpm9.jwe" "$d/tpm9.out" decrypt
	expect_refused "a JWE for pin tpm9: refused, naming the pin" "$d/tpm9.out" "tpm9"
	;;
*) not_ok "a JWE for pin tpm9 can be built" "header: $hdr" ;;
esac
trun "$PLAIN" "$d/encpin.out" encrypt tpm9 '{}'
expect_refused "encrypt with an unknown pin: refused, naming it" "$d/encpin.out" "tpm9"

# ----------------------------------------------------- plaintext sizes

d=$TEST_DIR/sizes
mkdir "$d"
cfg="{\"url\":\"$TD_URL\",\"thp\":\"$thp\"}"
# recovers_file DESCRIPTION TOOL JWE PLAIN: like recovers, for PLAIN.
recovers_file() {
	local saved=$PLAIN
	PLAIN=$4
	recovers "$1" "$2" "$3"
	PLAIN=$saved
}
for n in 0 1 65536; do
	head -c "$n" /dev/urandom >"$d/p$n"
	trun "$d/p$n" "$d/t$n.jwe" encrypt tang "$cfg"
	expect_ok "a $n-byte plaintext: tether encrypts it"
	recovers_file "a $n-byte plaintext: tether decrypts tether's JWE" tether "$d/t$n.jwe" "$d/p$n"
	recovers_file "a $n-byte plaintext: clevis decrypts tether's JWE" clevis "$d/t$n.jwe" "$d/p$n"
	check "a $n-byte plaintext: clevis encrypts it" \
		sh -c "clevis encrypt tang '$cfg' <'$d/p$n' >'$d/c$n.jwe'"
	recovers_file "a $n-byte plaintext: tether decrypts clevis's JWE" tether "$d/c$n.jwe" "$d/p$n"
done

# Whatever tether encrypt accepts, tether decrypt must take back: either
# encrypt refuses a plaintext this large, or decrypt recovers it.
head -c 1048576 /dev/urandom >"$d/p1m"
trun "$d/p1m" "$d/t1m.jwe" encrypt tang "$cfg"
if [ "$RC" -ne 0 ]; then
	expect_refused "a 1 MiB plaintext: encrypt refuses it in one line" "$d/t1m.jwe" "."
else
	recovers_file "a 1 MiB plaintext tether encrypt accepted: tether decrypts it" \
		tether "$d/t1m.jwe" "$d/p1m"
fi

# ------------------------------------------------------- network errors

d=$TEST_DIR/net
mkdir "$d"
curl -sSf --max-time 10 "$TD_URL/adv" >"$d/adv.json"

# A server that accepts and never answers.
listen_socat hang "EXEC:sleep 30"
check "a server that never answers listens" test -n "${hang_PID:-}"
HANG_URL=$URL HANG_PORT=${URL##*:}

trun "$PLAIN" "$d/hang.jwe" encrypt tang "{\"url\":\"$HANG_URL\",\"adv\":\"$d/adv.json\"}"
expect_ok "offline encrypt naming the silent server"
RC=0
TETHER_TIMEOUT=2 timeout 20 "$TETHER" decrypt <"$d/hang.jwe" >"$d/hang.out" \
	2>"$TEST_DIR/err" || RC=$?
ERR=$(cat "$TEST_DIR/err")
expect_refused "decrypt from a silent server with TETHER_TIMEOUT=2 times out, naming it" \
	"$d/hang.out" "timed out.*127\.0\.0\.1:$HANG_PORT"
RC=0
TETHER_TIMEOUT=2 timeout 20 "$TETHER" encrypt tang "{\"url\":\"$HANG_URL\",\"thp\":\"$thp\"}" \
	<"$PLAIN" >"$d/hang-enc.out" 2>"$TEST_DIR/err" || RC=$?
ERR=$(cat "$TEST_DIR/err")
expect_refused "encrypt from a silent server with TETHER_TIMEOUT=2 times out" \
	"$d/hang-enc.out" "timed out"
RC=0
TETHER_TIMEOUT=2 timeout 20 "$TETHER" adv "$HANG_URL" \
	<"$TEST_DIR/empty" >"$d/hang-adv.out" 2>"$TEST_DIR/err" || RC=$?
ERR=$(cat "$TEST_DIR/err")
expect_refused "adv from a silent server with TETHER_TIMEOUT=2 times out" \
	"$d/hang-adv.out" "timed out"

# An unresolvable name.
trun "$PLAIN" "$d/nohost.jwe" encrypt tang \
	"{\"url\":\"http://no-such-host.invalid\",\"adv\":\"$d/adv.json\"}"
expect_ok "offline encrypt naming an unresolvable host"
trun "$d/nohost.jwe" "$d/nohost.out" decrypt
expect_refused "decrypt: an unresolvable host is named as such" \
	"$d/nohost.out" "no-such-host\.invalid.*cannot resolve"
trun "$PLAIN" "$d/nohost-enc.out" encrypt tang \
	"{\"url\":\"http://no-such-host.invalid\",\"thp\":\"$thp\"}"
expect_refused "encrypt: an unresolvable host is named as such" \
	"$d/nohost-enc.out" "no-such-host\.invalid.*cannot resolve"

# HTTP 404: a path under which nothing is served.
trun "$PLAIN" "$d/404.jwe" encrypt tang "{\"url\":\"$TD_URL/nothing\",\"adv\":\"$d/adv.json\"}"
expect_ok "offline encrypt naming a path where nothing is served"
trun "$d/404.jwe" "$d/404.out" decrypt
expect_refused "decrypt: the server's HTTP 404 is reported" "$d/404.out" "HTTP 404"
trun "$PLAIN" "$d/404-enc.out" encrypt tang "{\"url\":\"$TD_URL/nothing\",\"thp\":\"$thp\"}"
expect_refused "encrypt: the server's HTTP 404 is reported" "$d/404-enc.out" "HTTP 404"

# HTTP 404 on /adv/THP: the server has no key with that thumbprint; on
# /rec/KID: no exchange key of that name. Both from tangd and tetherd.
fake=$(printf 'no such key' | openssl dgst -sha256 -binary | jose b64 enc -I-)
other_adv=$(curl -sSf --max-time 10 "$TG_URL/adv")
for u in "$TD_URL" "$TG_URL"; do
	trun "$PLAIN" "$d/nokey-enc.out" encrypt tang "{\"url\":\"$u\",\"thp\":\"$fake\"}"
	expect_refused "encrypt to $u with an unknown thp: the server has no such key" \
		"$d/nokey-enc.out" "$u/adv/$fake: the server has no signing key with thumbprint $fake \\(HTTP 404\\)"
done
# A JWE whose exchange key is tangd's, sent to tetherd, which lacks it.
trun "$PLAIN" "$d/nokey.jwe" encrypt tang "{\"url\":\"$TD_URL\",\"adv\":$other_adv}"
expect_ok "offline encrypt with another server's advertisement"
kid=$(jwe_kid "$d/nokey.jwe")
trun "$d/nokey.jwe" "$d/nokey.out" decrypt
expect_refused "decrypt: a server without the JWE's exchange key says so" \
	"$d/nokey.out" "/rec/$kid: the server has no exchange key with thumbprint $kid \\(HTTP 404\\)"

# Connection refused, on encrypt and adv too.
dead_port=$(free_port)
trun "$PLAIN" "$d/dead-enc.out" encrypt tang "{\"url\":\"http://127.0.0.1:$dead_port\",\"thp\":\"$thp\"}"
expect_refused "encrypt: connection refused names the address" \
	"$d/dead-enc.out" "127\.0\.0\.1:$dead_port.*[Rr]efused"
trun "$TEST_DIR/empty" "$d/dead-adv.out" adv "http://127.0.0.1:$dead_port"
expect_refused "adv: connection refused names the address" \
	"$d/dead-adv.out" "127\.0\.0\.1:$dead_port.*[Rr]efused"

# Invalid configurations: one line each, nothing written.
bad_cfgs=(
	'not json'
	'{"url":'
	'[]'
	'"http://127.0.0.1"'
	'{}'
	"{\"thp\":\"$thp\"}"
	'{"url":42}'
	'{"url":""}'
	'{"url":"ftp://127.0.0.1/"}'
	'{"url":"http://"}'
	'{"url":"http://127.0.0.1:99999"}'
	'{"url":"http://127.0.0.1:12x"}'
	'{"url":"http://[::1"}'
	"{\"url\":\"$TD_URL\",\"thp\":42}"
	"{\"url\":\"$TD_URL\",\"adv\":\"$d/no-such-file.json\"}"
	"{\"url\":\"$TD_URL\",\"adv\":42}"
	"{\"url\":\"$TD_URL\",\"adv\":{\"keys\":[]}}"
)
for c in "${bad_cfgs[@]}"; do
	trun "$PLAIN" "$d/badcfg.out" encrypt tang "$c"
	expect_refused "invalid config refused in one line: $c" "$d/badcfg.out" "."
done
trun "$PLAIN" "$d/nocfg.out" encrypt tang
check "encrypt tang with no config: refused" test "$RC" -ne 0 -a "$RC" -ne 124
check "... writing nothing" test ! -s "$d/nocfg.out"
check "... and saying why" grep -Eqi "usage|config" "$TEST_DIR/err"

# ------------------------------------------------ tampered advertisements

d=$TEST_DIR/tamper
mkdir "$d"
adv=$(cat "$TEST_DIR/net/adv.json")
payload=$(jose fmt -j "$adv" -g payload -u-)
# Tang serves a flattened JWS with one signing key, a general one with more.
sig=$(jose fmt -j "$adv" -g signature -u- 2>/dev/null ||
	jose fmt -j "$adv" -g signatures -g 0 -g signature -u-)

# 1. The signature altered by one byte.
new_sig=$(flip_byte "$sig")
printf '%s\n' "${adv//"$sig"/"$new_sig"}" >"$d/sig.json"
# 2. The exchange key replaced by another one (the attack a signature stops).
jose jwk gen -i '{"alg":"ECMR","crv":"P-521"}' | jose jwk pub -i- -o "$d/evil.jwk"
keys_json=$(printf '%s' "$payload" | jose b64 dec -i-)
sig_pub=$(jose fmt -j "$keys_json" -g keys -Af- |
	while IFS= read -r k; do
		if jose jwk use -i- -u verify <<<"$k" 2>/dev/null; then
			printf '%s\n' "$k"
		fi
	done | head -n 1)
evil_payload=$(b64_of "{\"keys\":[$sig_pub,$(cat "$d/evil.jwk")]}")
jose fmt -j "$adv" -q "$evil_payload" -s payload -Uo "$d/swap.json"

check "the altered signature differs from the real one" \
	test -n "$sig" -a -n "$new_sig" -a "$new_sig" != "$sig" -a \
	"$(cat "$d/sig.json")" != "$adv"
check "the swapped payload carries the signing key and another exchange key" \
	test -n "$sig_pub" -a "$evil_payload" != "$payload"

# serve_file NAME FILE [MODE]: a tiny HTTP/1.1 responder on a free port
# answering every request with FILE as a JSON body (MODE raw: FILE is the
# whole reply; trickle: the same, sent 97 bytes at a time as a streaming
# proxy would; endless: a reply with no length and a body that never
# ends); sets URL and NAME_PID.
cat >"$TEST_DIR/respond.sh" <<'EOF'
#!/usr/bin/env bash
# Reads one request (at most 100 header lines, then its body), answers.
len=0
for _ in $(seq 1 100); do
	IFS= read -r -t 10 line || break
	line=${line%$'\r'}
	[ -n "$line" ] || break
	case ${line,,} in
	content-length:*) len=$((${line#*:} + 0)) ;;
	esac
done
[ "$len" -le 0 ] || IFS= read -r -t 10 -N "$len" _
case ${2:-} in
raw) exec cat "$1" ;;
trickle) # FILE is the whole reply, sent in pieces with pauses between
	size=$(stat -c %s "$1")
	for ((off = 0; off < size; off += 97)); do
		dd if="$1" iflag=skip_bytes,count_bytes skip="$off" count=97 \
			bs=97 status=none
		sleep 0.05
	done
	exit 0
	;;
endless)
	printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n'
	exec cat /dev/zero
	;;
esac
printf 'HTTP/1.1 200 OK\r\nContent-Type: application/jose+json\r\n'
printf 'Content-Length: %s\r\nConnection: close\r\n\r\n' "$(stat -c %s "$1")"
exec cat "$1"
EOF
serve_file() {
	listen_socat "$1" "EXEC:bash $TEST_DIR/respond.sh $2 ${3:-}"
}

cp "$TEST_DIR/net/adv.json" "$d/real.json"
serve_file real "$d/real.json" || not_ok "the responder serves the real adv"
trun "$TEST_DIR/empty" "$d/real.out" adv "$URL"
expect_ok "the responder serving the real advertisement passes tether adv"

for what in sig swap; do
	serve_file "$what" "$d/$what.json" || not_ok "the responder serves $what"
	trun "$TEST_DIR/empty" "$d/$what-adv.out" adv "$URL"
	expect_refused "tether adv: $what-tampered advertisement refused" \
		"$d/$what-adv.out" "signature invalid"
	trun "$PLAIN" "$d/$what-y.out" encrypt tang "{\"url\":\"$URL\"}" -y
	expect_refused "encrypt -y: $what-tampered advertisement refused" \
		"$d/$what-y.out" "signature invalid"
	trun "$PLAIN" "$d/$what-thp.out" encrypt tang "{\"url\":\"$URL\",\"thp\":\"$thp\"}"
	expect_refused "encrypt with thp: $what-tampered advertisement refused" \
		"$d/$what-thp.out" "signature invalid"
	trun "$PLAIN" "$d/$what-file.out" encrypt tang \
		"{\"url\":\"$TD_URL\",\"adv\":\"$d/$what.json\"}"
	expect_refused "offline encrypt: $what-tampered advertisement file refused" \
		"$d/$what-file.out" "signature invalid|not signed"
done

# A well-signed advertisement from another server does not match our thp.
mkdir -m 0700 "$d/other-keys"
"$TANGD_KEYGEN" "$d/other-keys" >/dev/null 2>&1
start_tangd other "$d/other-keys" || not_ok "another tangd starts"
curl -sSf --max-time 10 "$URL/adv" >"$d/other.json"
trun "$PLAIN" "$d/other.out" encrypt tang \
	"{\"url\":\"$TD_URL\",\"thp\":\"$thp\",\"adv\":\"$d/other.json\"}"
expect_refused "offline encrypt: another server's advertisement does not match thp" \
	"$d/other.out" "no signing key .*thp"

# --------------------------------------------- malformed server replies

d=$TEST_DIR/replies
mkdir "$d"
adv=$(cat "$TEST_DIR/net/adv.json")
printf 'garbage\r\n\r\n' >"$d/garbage"
printf 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n' >"$d/500"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 100000000000\r\n\r\n{}' >"$d/huge-length"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{}' >"$d/short-body"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ' >"$d/two-lengths"
printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n{}' >"$d/huge-chunk"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]' >"$d/not-object"
{
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
	printf '%x\r\n%s\r\n0\r\n\r\n' "${#adv}" "$adv"
} >"$d/chunked"
printf 'HTTP/1.0 200 OK\r\n\r\n%s' "$adv" >"$d/http10"
# Bare LF line ends (RFC 9112 section 2.2), as clevis's tang-validate-adv
# test serves them, and interim 1xx replies before the final one.
printf 'HTTP/1.0 200 OK\n\n%s\n' "$adv" >"$d/bare-lf"
{
	printf 'HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n'
	printf '%x\n%s\n0\n\n' "${#adv}" "$adv"
} >"$d/bare-lf-chunked"
{
	printf 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n'
	printf 'Link: </adv>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %s\r\n\r\n%s' \
		"${#adv}" "$adv"
} >"$d/interim-1xx"
printf 'HTTP/1.1 200 OK\rContent-Length: %s\r\r%s' "${#adv}" "$adv" >"$d/bare-cr"
printf 'HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\n\r\n%s' \
	"$adv" >"$d/switching"
for r in chunked http10 bare-lf bare-lf-chunked interim-1xx; do
	serve_file "r_${r//-/_}" "$d/$r" raw || not_ok "the responder serves $r"
	trun "$TEST_DIR/empty" "$d/$r.out" adv "$URL"
	check_eq "a valid advertisement in a $r reply is accepted" \
		"$thp" "$(awk '$1 == "signing" { print $3 }' "$d/$r.out")"
done
# Many chunks arriving over many reads: each read ends somewhere inside
# a chunk, its size line or its CRLF, and the reply is parsed again.
{
	printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
	for ((off = 0; off < ${#adv}; off += 40)); do
		piece=${adv:off:40}
		printf '%x\r\n%s\r\n' "${#piece}" "$piece"
	done
	printf '0\r\n\r\n'
} >"$d/many-chunks"
serve_file r_trickle "$d/many-chunks" trickle ||
	not_ok "the responder serves many chunks in pieces"
trun "$TEST_DIR/empty" "$d/trickle.out" adv "$URL"
check_eq "a chunked reply split across reads is accepted" \
	"$thp" "$(awk '$1 == "signing" { print $3 }' "$d/trickle.out")"
for r in garbage 500 huge-length short-body two-lengths huge-chunk not-object \
	bare-cr switching; do
	serve_file "r_${r//-/_}" "$d/$r" raw || not_ok "the responder serves $r"
	trun "$TEST_DIR/empty" "$d/$r.out" adv "$URL"
	expect_refused "a $r reply to GET /adv is refused, naming the server" \
		"$d/$r.out" "127\.0\.0\.1:${URL##*:}"
done
serve_file r_endless "$d/garbage" endless || not_ok "the responder serves endless"
RC=0
TETHER_TIMEOUT=10 timeout 30 "$TETHER" adv "$URL" <"$TEST_DIR/empty" \
	>"$d/endless.out" 2>"$TEST_DIR/err" || RC=$?
ERR=$(cat "$TEST_DIR/err")
expect_refused "a reply that never ends is cut off (bounded size)" \
	"$d/endless.out" "127\.0\.0\.1:${URL##*:}"

# A recovery answered by the wrong server: a valid key that is not the
# exchange result, a key off the curve, not a key. The tag cannot verify;
# nothing may be written.
jose jwk gen -i '{"alg":"ECMR","crv":"P-521"}' | jose jwk pub -i- -o "$d/random.jwk"
y=$(jose fmt -j "$d/random.jwk" -g y -u-)
printf '%s' "$y" | jose b64 dec -i- -O "$d/y.bin"
last=$(tail -c 1 "$d/y.bin" | od -An -tu1 | tr -d ' ')
off_y=$({
	head -c $(($(stat -c %s "$d/y.bin") - 1)) "$d/y.bin"
	# shellcheck disable=SC2059
	printf "\\$(printf %03o $((last ^ 1)))"
} | jose b64 enc -I-)
jose fmt -j "$d/random.jwk" -q "$off_y" -s y -Uo "$d/offcurve.jwk"
check "the off-curve key differs from the random one only in y" \
	test "$off_y" != "$y" -a "${#off_y}" = "${#y}"
printf '{"keys":[]}' >"$d/notkey.json"
# A point off the curve or not a point is named as such; a real point
# that is not the answer is caught by the tag.
for r in random.jwk:"does not decrypt" offcurve.jwk:"not a P-521 point" \
	notkey.json:"not a P-521 point"; do
	why=${r#*:}
	r=${r%%:*}
	serve_file "rec_${r%.*}" "$d/$r" || not_ok "the responder serves $r"
	trun "$PLAIN" "$d/$r.jwe" encrypt tang \
		"{\"url\":\"$URL\",\"adv\":\"$TEST_DIR/net/adv.json\"}"
	expect_ok "offline encrypt naming a server that answers with ${r%.*}"
	trun "$d/$r.jwe" "$d/$r.out" decrypt
	expect_refused "a recovery answered with ${r%.*}: refused ($why), nothing written" \
		"$d/$r.out" "$why"
done

# Bad timeout settings are refused before anything is fetched.
for v in abc 0 -1 1e3 99999999999; do
	RC=0
	TETHER_TIMEOUT=$v timeout "$TBOUND" "$TETHER" adv "$TD_URL" \
		<"$TEST_DIR/empty" >"$d/env.out" 2>"$TEST_DIR/err" || RC=$?
	ERR=$(cat "$TEST_DIR/err")
	expect_refused "TETHER_TIMEOUT=$v is refused" "$d/env.out" "TETHER_TIMEOUT"
	RC=0
	TETHER_CONNECT_TIMEOUT=$v timeout "$TBOUND" "$TETHER" adv "$TD_URL" \
		<"$TEST_DIR/empty" >"$d/env.out" 2>"$TEST_DIR/err" || RC=$?
	ERR=$(cat "$TEST_DIR/err")
	expect_refused "TETHER_CONNECT_TIMEOUT=$v is refused" "$d/env.out" "TETHER_CONNECT_TIMEOUT"
done

# ------------------------------------------------------------------ IPv6

d=$TEST_DIR/v6
mkdir "$d"
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/'; then
	mkdir -m 0700 "$d/keys"
	V6_PORT=$(free_port)
	V6_URL="http://[::1]:$V6_PORT"
	"$TETHERD" serve --keys "$d/keys" --listen "$V6_URL" >>"$TEST_DIR/v6.log" 2>&1 &
	v6_PID=$!
	test_pids+=("$v6_PID")
	if wait_http "$V6_URL/adv"; then
		ok "tetherd listens on [::1]"
		v6_thp=$("$TETHERD" keys list --keys "$d/keys")
		trun "$TEST_DIR/empty" "$d/adv.out" adv "$V6_URL"
		check_eq "tether adv over IPv6 shows the signing key" "$v6_thp" \
			"$(awk '$1 == "signing" { print $3 }' "$d/adv.out")"
		trun "$PLAIN" "$d/v6.jwe" encrypt tang "{\"url\":\"$V6_URL\",\"thp\":\"$v6_thp\"}"
		expect_ok "tether encrypt tang to http://[::1]:PORT"
		recovers "... tether decrypts it over IPv6" tether "$d/v6.jwe"
		recovers "... clevis decrypts it over IPv6" clevis "$d/v6.jwe"
		stop_pid "$v6_PID"
		trun "$d/v6.jwe" "$d/v6-down.out" decrypt
		expect_refused "with the IPv6 server stopped, decrypt names [::1]:PORT" \
			"$d/v6-down.out" "::1.*$V6_PORT.*[Rr]efused"
	else
		not_ok "tetherd listens on [::1]" "$(tail -n 5 "$TEST_DIR/v6.log")"
	fi
else
	ok "# SKIP no ::1 on lo"
fi

# ------------------------------------------------------ --help, --version

d=$TEST_DIR/help
mkdir "$d"
trun "$TEST_DIR/empty" "$d/help" --help
expect_ok "tether --help exits 0"
check "... and prints usage naming encrypt, decrypt and adv" \
	sh -c "grep -qi usage '$d/help' && grep -q encrypt '$d/help' &&
		grep -q decrypt '$d/help' && grep -q adv '$d/help'"
for c in encrypt decrypt adv; do
	trun "$TEST_DIR/empty" "$d/help-$c" "$c" --help
	expect_ok "tether $c --help exits 0"
	check "... and prints its usage" grep -q "tether $c" "$d/help-$c"
done
for pin in tang sss; do
	trun "$TEST_DIR/empty" "$d/help-encrypt-$pin" encrypt "$pin" --help
	expect_ok "tether encrypt $pin --help exits 0"
	check "... and prints the usage, not a configuration error" \
		grep -q "tether encrypt" "$d/help-encrypt-$pin"
done
# tether help is tether --help; tether help COMMAND [PIN] is ... --help.
trun "$TEST_DIR/empty" "$d/help-word" help
expect_ok "tether help exits 0"
check "... and prints what tether --help prints" cmp "$d/help" "$d/help-word"
for c in encrypt decrypt adv luks "encrypt tang" "encrypt sss" "encrypt null"; do
	f=$d/help-${c// /-}
	# shellcheck disable=SC2086 # c is words
	trun "$TEST_DIR/empty" "$f.word" help $c
	# shellcheck disable=SC2086
	trun "$TEST_DIR/empty" "$f.opt" $c --help
	check "tether help $c prints what tether $c --help prints" \
		sh -c "test -s '$f.word' && cmp '$f.word' '$f.opt'"
done
# Each option and each config member is described, on its own line.
described() { # FILE NAME...: every NAME starts a line of FILE's text
	local f=$1 n
	shift
	for n in "$@"; do
		grep -Eq "^ +$n +[a-z(]" "$f" || { echo "$n not described"; return 1; }
	done
}
check "tether encrypt --help describes PIN, CONFIG and -y" \
	described "$d/help-encrypt.opt" PIN CONFIG -y
check "tether adv --help describes URL, credentials included" \
	sh -c "grep -Eq '^ +URL +http' '$d/help-adv.opt' &&
		grep -q 'NAME:TOKEN' '$d/help-adv.opt'"
check "tether decrypt --help says it takes no options" \
	grep -q "no options" "$d/help-decrypt.opt"
check "tether encrypt tang --help describes every member tang takes" \
	described "$d/help-encrypt-tang.opt" url thp adv ca pin client token trust
check "tether encrypt sss --help describes t and pins" \
	described "$d/help-encrypt-sss.opt" t pins
check "tether encrypt null --help describes fail" \
	described "$d/help-encrypt-null.opt" fail
trun "$TEST_DIR/empty" "$d/pin-only" encrypt tang
check_eq "tether encrypt tang with no CONFIG shows the pin's usage, exit 2" \
	"2 $(cat "$d/help-encrypt-tang.opt")" "$RC $ERR"

trun "$TEST_DIR/empty" "$d/version" --version
expect_ok "tether --version exits 0"
check "... and prints a version" grep -Eq '^tether [0-9]+\.[0-9]+' "$d/version"
trun "$TEST_DIR/empty" "$d/nocmd" no-such-command
check "an unknown command exits non-zero" test "$RC" -ne 0 -a "$RC" -ne 124
check "... saying so" grep -q "tether: .*no-such-command" "$TEST_DIR/err"

done_testing

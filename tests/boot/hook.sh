#!/usr/bin/env bash
# tether's initramfs-tools hook on its own, as mkinitramfs runs it (a
# DESTDIR, the crypttab cryptroot's hook wrote there): what it copies for
# which bindings. tether and the token plugin only for a bound volume; the
# CA bundle only for an https binding that trusts the system store.
. "$(dirname "$0")/../interop/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"
: "${TETHER_TOKEN_PLUGIN:?TETHER_TOKEN_PLUGIN must name the token plugin}"
: "${TETHER_INITRAMFS_HOOK:?TETHER_INITRAMFS_HOOK must name the built hook}"
[ -r /usr/share/initramfs-tools/hook-functions ] || {
	echo "1..0 # SKIP initramfs-tools is not installed"
	exit 0
}

PASS=pw
W=$TEST_DIR
CA=/etc/ssl/certs/ca-certificates.crt
mkdir -m 0700 "$W/keys"
start_tetherd srv "$W/keys" || { not_ok "tetherd starts"; done_testing; exit 1; }
curl -sf "$URL/adv" >"$W/adv.json"
PIN="sha256//$(head -c 32 /dev/urandom | base64)"

# image NAME [CONFIG]: a LUKS2 file, bound to CONFIG if given.
image() {
	truncate -s 20M "$W/$1"
	printf %s "$PASS" | cryptsetup luksFormat --type luks2 --batch-mode \
		--pbkdf pbkdf2 --pbkdf-force-iterations 1000 "$W/$1" - || return 1
	if [ -n "${2:-}" ]; then
		printf %s "$PASS" | "$TETHER" luks bind -d "$W/$1" -k - -y tang "$2"
	fi
}
check "an image bound over http" image http.img \
	"{\"url\":\"http://keys.example\",\"adv\":\"$W/adv.json\"}"
check "one bound over https, trusting the system CA store" image system.img \
	"{\"url\":\"https://keys.example\",\"adv\":\"$W/adv.json\"}"
check "one bound over https with a key pin" image pin.img \
	"{\"url\":\"https://keys.example\",\"adv\":\"$W/adv.json\",\"pin\":\"$PIN\"}"
check "one with no binding" image plain.img

# hook NAME CONF SOURCE...: runs the hook into $W/NAME with a crypttab
# naming each SOURCE, and CONF as conf.d/tether; clevis-initramfs's hook
# is not installed unless CLEVIS_HOOK names one.
hook() {
	local name=$1 d=$W/$1 conf=$2 i=0 src
	shift 2
	rm -rf "$d" "$W/conf"
	mkdir -p "$d/cryptroot" "$W/conf/conf.d"
	for src in "$@"; do
		printf 'vol%d %s none luks\n' "$i" "$src"
		i=$((i + 1))
	done >"$d/cryptroot/crypttab"
	[ -z "$conf" ] || printf '%s\n' "$conf" >"$W/conf/conf.d/tether"
	DESTDIR=$d CONFDIR=$W/conf version=$(uname -r) verbose=n MODULES=list \
		TETHER_BIN="$TETHER" TETHER_TOKEN_PLUGIN="$TETHER_TOKEN_PLUGIN" \
		TETHER_CLEVIS_HOOK="${CLEVIS_HOOK:-$W/no-clevis-hook}" \
		sh "$TETHER_INITRAMFS_HOOK" >"$W/$name.log" 2>&1
}
# with_clevis COMMAND...: COMMAND with clevis-initramfs's hook installed.
with_clevis() {
	local CLEVIS_HOOK=$W/clevis-hook
	"$@"
}
in_image() { [ -e "$W/$1/${2#/}" ] || [ -e "$W/$1/usr/${2#/}" ] || [ -L "$W/$1/${2#/}" ]; }
not_in_image() { ! in_image "$@"; }
token_dir=$(cryptsetup --help | sed -n 's/.*token plugin path: \(.*\)\.$/\1/p')

check "the hook runs for an http binding" hook http "" "$W/http.img"
check "... and copies tether" in_image http usr/bin/tether
# tether's LUKS commands are tether-luks, which tether runs from there.
luks_path=$(sed -n 's/^copy_exec "$TETHER_LUKS_BIN" //p' "$TETHER_INITRAMFS_HOOK")
check "... and tether-luks where tether looks for it" \
	sh -c "[ -n '$luks_path' ] && [ -x '$W/http/$luks_path' ]"
check "... and libcryptsetup, which tether-luks needs" sh -c "ls '$W/http'/usr/lib/*/libcryptsetup.so.* >/dev/null 2>&1 ||
	ls '$W/http'/lib/*/libcryptsetup.so.* >/dev/null 2>&1"
check "... with its libraries" sh -c "ls '$W/http'/usr/lib/*/libjansson.so.* >/dev/null 2>&1 ||
	ls '$W/http'/lib/*/libjansson.so.* >/dev/null 2>&1"
check "... and libssl and zlib, which tether loads only when it needs them (no ldd finds them)" \
	sh -c "ls '$W/http'/usr/lib/*/libssl.so.3 '$W/http'/usr/lib/*/libz.so.1 >/dev/null 2>&1 ||
	ls '$W/http'/lib/*/libssl.so.3 '$W/http'/lib/*/libz.so.1 >/dev/null 2>&1"
check "... and the token plugin where cryptsetup looks" \
	in_image http "$token_dir/libcryptsetup-token-clevis.so"
check "... and no CA bundle" not_in_image http "$CA"

check "the hook runs for an https binding on the system store" hook system "" \
	"$W/plain.img" "$W/system.img"
check "... and copies the CA bundle" in_image system "$CA"
check "... where OpenSSL looks by default" in_image system usr/lib/ssl/cert.pem

check "the hook runs for an https binding with a pin" hook pin "" "$W/pin.img"
check "... and copies no CA bundle" not_in_image pin "$CA"

check "the hook runs for volumes with no binding" hook plain "" "$W/plain.img"
check "... and copies nothing" sh -c "[ -z \"\$(find '$W/plain' -type f ! -path '*/cryptroot/*')\" ]"

check "a source it cannot read at build time" hook unknown "" UUID=00000000-0000-0000-0000-000000000000
check "... counts as bound: tether is copied" in_image unknown usr/bin/tether
check "... saying why" grep -q "cannot read" "$W/unknown.log"

# Beside clevis-initramfs: a volume bound with a pin only clevis has
# (pkcs11) is left to clevis when clevis's hook is installed, since
# tether's local-top would stop clevis's unlocker; tpm2 is tether's too.
# The bindings are written the way clevis writes one (a clevis token whose
# JWE header names the pin); reading them needs no TPM or token.
pin_binding() { # IMAGE PIN: adds a keyslot and a clevis token of PIN for it
	local jwe slot
	jose jwk gen -i '{"alg":"A256GCM"}' -o "$W/pin.jwk" &&
		jwe=$(printf "$2-key" | jose jwe enc -k "$W/pin.jwk" -I- -o- \
			-i "{\"protected\":{\"clevis\":{\"pin\":\"$2\",\"$2\":{}}}}") &&
		printf %s "$PASS" | cryptsetup luksAddKey --pbkdf pbkdf2 \
			--pbkdf-force-iterations 1000 --key-file - "$1" <(printf "$2-key") &&
		slot=$(cryptsetup luksDump --dump-json-metadata "$1" |
			jq -r '.keyslots | keys | map(tonumber) | max') &&
		jq -cn --argjson jwe "$jwe" --arg slot "$slot" \
			'{type:"clevis",keyslots:[$slot],jwe:$jwe}' |
		cryptsetup token import "$1"
}
cp "$W/http.img" "$W/tpm2.img"
cp "$W/http.img" "$W/pkcs11.img"
check "an image bound over http and with tpm2" pin_binding "$W/tpm2.img" tpm2
check "... whose tpm2 binding tether luks list shows" sh -c \
	"'$TETHER' luks list -d '$W/tpm2.img' | grep -q '^[0-9]*: tpm2 '"
check "one bound over http and with pkcs11" pin_binding "$W/pkcs11.img" pkcs11
check "without clevis-initramfs, the hook runs for them" hook alone "" \
	"$W/http.img" "$W/tpm2.img"
check "... and copies tether" in_image alone usr/bin/tether
tss_dir=$(dirname "$(ldconfig -p | sed -n 's|^[[:space:]]*libtss2-esys.so.0 (.*) => ||p' | head -n 1)")
check "... and tpm2-tss with the device TCTI, for the tpm2 binding" sh -c \
	"[ -e '$W/alone$tss_dir/libtss2-esys.so.0' ] && [ -e '$W/alone$tss_dir/libtss2-tcti-device.so.0' ] ||
	[ -e '$W/alone/usr$tss_dir/libtss2-esys.so.0' ] && [ -e '$W/alone/usr$tss_dir/libtss2-tcti-device.so.0' ]"
check "no binding uses tpm2: no tpm2-tss is copied" sh -c \
	"! find '$W/http' -name 'libtss2*' | grep -q ."
: >"$W/clevis-hook"
check "beside clevis-initramfs's hook, with tpm2" with_clevis hook beside-tpm2 "" \
	"$W/http.img" "$W/tpm2.img"
check "... tether is copied: it unlocks tpm2 too" in_image beside-tpm2 usr/bin/tether
check "beside clevis-initramfs's hook, with pkcs11" with_clevis hook beside "" \
	"$W/http.img" "$W/pkcs11.img"
check "... copies no tether: clevis unlocks" not_in_image beside usr/bin/tether
check "... saying which volume and pin need clevis" \
	grep -q 'vol1 (pkcs11): a binding only clevis can recover' "$W/beside.log"
check "beside clevis-initramfs's hook, with tang bindings only" with_clevis hook \
	beside2 "" "$W/http.img"
check "... tether is copied, as without clevis" in_image beside2 usr/bin/tether
check "TETHER_INITRAMFS=y beside clevis, with pkcs11" with_clevis hook forced \
	"TETHER_INITRAMFS=y" "$W/pkcs11.img"
check "... copies tether" in_image forced usr/bin/tether

check "TETHER_INITRAMFS=n in conf.d/tether" hook off "TETHER_INITRAMFS=n" "$W/http.img"
check "... copies nothing" not_in_image off usr/bin/tether
check "TETHER_CA_BUNDLE=y" hook ca "TETHER_CA_BUNDLE=y" "$W/http.img"
check "... copies the CA bundle for an http binding too" in_image ca "$CA"

done_testing

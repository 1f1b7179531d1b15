#!/usr/bin/env bash
# Remakes the seeds of the targets that read what Tang and Clevis write,
# from Debian's tangd (per connection, under socat) serving tests/fuzz/keys
# and Debian's clevis: adv/tangd*, pin-header/clevis-*, pin-config/*,
# token/clevis-tang and token/clevis-sss. The fuzz targets answer every
# exchange from those keys (offline.c), so these seeds decrypt there.
# Needs tangd, clevis, jose, cryptsetup, socat, curl, python3; touches
# nothing outside a temporary directory and tests/fuzz/corpus.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus
tmp=$(mktemp -d)
socat_pid=
cleanup() {
	[ -z "$socat_pid" ] || kill "$socat_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# A port below the ephemeral range that nothing uses now.
while :; do
	port=$((20000 + RANDOM % 8000))
	ss -Htan "sport = :$port" | grep -q . || break
done
url=http://127.0.0.1:$port
socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" \
	"EXEC:/usr/libexec/tangd $here/keys" 2>/dev/null &
socat_pid=$!
for _ in $(seq 1 100); do
	curl -sf -o "$tmp/adv" "$url/adv" && break
	sleep 0.1
done
signer=$(jose fmt -j "$(jose fmt -j "$(cat "$tmp/adv")" -g payload -Su- |
	jose b64 dec -i- -O-)" -g keys -A -f- |
	jose jwk use -i- -r -u verify -o- | jose jwk thp -i-)
curl -sf -o "$tmp/adv-kid" "$url/adv/$signer"

sss='{"t":2,"pins":{"tang":[{"url":"'$url'"},{"url":"http://localhost:'$port'"}],'
sss=$sss'"sss":{"t":1,"pins":{"tang":[{"url":"'$url'/"}],"null":{}}}}}'
printf secret | clevis encrypt tang '{"url":"'"$url"'"}' -y >"$tmp/tang.jwe"
printf secret | clevis encrypt sss "$sss" -y >"$tmp/sss.jwe"
printf secret | clevis encrypt null '{}' >"$tmp/null.jwe"

# LUKS2 tokens as `clevis luks bind` writes them, on an image file.
truncate -s 20M "$tmp/img"
printf pw | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000 "$tmp/img" -
printf pw | clevis luks bind -y -d "$tmp/img" -k - tang '{"url":"'"$url"'"}'
printf pw | clevis luks bind -y -d "$tmp/img" -k - sss \
	'{"t":1,"pins":{"tang":[{"url":"'"$url"'"}],"null":{}}}'
cryptsetup token export --token-id 0 "$tmp/img" >"$corpus/token/clevis-tang"
cryptsetup token export --token-id 1 "$tmp/img" >"$corpus/token/clevis-sss"

cp "$tmp/adv" "$corpus/adv/tangd"
cp "$tmp/adv-kid" "$corpus/adv/tangd-kid"
python3 - "$tmp" "$corpus" "$url" "$signer" <<'EOF'
import base64, json, sys
tmp, corpus, url, thp = sys.argv[1:]

def dec(s):
    return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))

# pin-header: the header's bytes as written, a newline, IV.CIPHERTEXT.TAG.
for name in ('tang', 'sss', 'null'):
    parts = open(f'{tmp}/{name}.jwe').read().strip().split('.')
    with open(f'{corpus}/pin-header/clevis-{name}', 'wb') as f:
        f.write(dec(parts[0]) + b'\n' + '.'.join(parts[2:]).encode())

adv = json.load(open(f'{tmp}/adv'))
general = {'payload': adv['payload'], 'signatures': [
    {'protected': adv['protected'], 'signature': adv['signature']}]}
open(f'{corpus}/adv/general', 'w').write(json.dumps(general))
signer = [k for k in json.loads(dec(adv['payload']))['keys']
          if 'verify' in k['key_ops']][0]

def config(name, pin, cfg):
    with open(f'{corpus}/pin-config/{name}', 'w') as f:
        f.write(pin + '\n' + json.dumps(cfg, separators=(',', ':')))

pem = ('-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUX\n'
       '-----END CERTIFICATE-----\n')
config('tang-adv-object', 'tang', {'url': url, 'adv': adv})
config('tang-y', 'tang -y', {'url': url})
config('tang-thp', 'tang', {'url': 'http://tang.example/tang', 'thp': thp})
config('tang-adv-file', 'tang', {'url': 'http://tang.example',
                                 'adv': 'adv.jws'})
config('tang-https', 'tang', {
    'url': 'https://web1:t0ken@tang.example:8443', 'thp': thp,
    'pin': 'sha256//' + base64.b64encode(b'\x01' * 32).decode(), 'ca': pem})
config('tang-client', 'tang', {'url': 'https://[::1]:443', 'adv': 'adv.jws',
                               'client': 'web1', 'token': 't0k3n'})
config('tang-trust', 'tang', {'url': 'http://tang.example',
                              'trust': [signer]})
config('sss-nested', 'sss -y', {'t': 2, 'pins': {
    'tang': [{'url': url}, {'url': url.replace('127.0.0.1', 'localhost')}],
    'sss': {'t': 1, 'pins': {'null': {}, 'tang': {'url': url + '/'}}}}})
config('null', 'null', {})
config('sss-null-fail', 'sss', {'t': 1, 'pins': {'null': [{'fail': True},
                                                          {}]}})
EOF
echo "seeds remade from $url" >&2

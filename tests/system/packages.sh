#!/usr/bin/env bash
# tether's Debian packages: built by dpkg-buildpackage, clean in lintian,
# split as operators install them, installed with their maintainer
# scripts into a Debian 12 root beside Debian's tang and clevis, purged
# without losing a key, and their bash completion.
. "$(dirname "$0")/lib.sh"
: "${TETHER:?TETHER must name the tether binary}"

build_debs "$W" || bail "packages build with dpkg-buildpackage" \
	"$(tail -n 30 "$W/build.log")"
ok "packages build with dpkg-buildpackage"
debs=("$W"/tetherd_*.deb "$W"/tether_*.deb "$W"/tether-initramfs-tools_*.deb)

if lintian --fail-on error "$W"/tether_*.changes >"$W/lintian.out" 2>&1; then
	ok "lintian reports no errors"
	sed 's/^/# lintian: /' "$W/lintian.out"
else
	not_ok "lintian reports no errors" "$(cat "$W/lintian.out")"
fi

# has_files DESCRIPTION DEB PATH...: the package holds each PATH.
has_files() {
	local desc=$1 deb=$2 p missing=()
	shift 2
	dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|' >"$W/list"
	for p in "$@"; do
		grep -qxF "$p" "$W/list" || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "missing: ${missing[*]}"
	fi
}
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
has_files "tetherd holds the server, its units, user, config and pages" \
	"${debs[0]}" /usr/sbin/tetherd /lib/systemd/system/tetherd.service \
	/lib/systemd/system/tetherd.socket /lib/systemd/system/tetherd-https.socket \
	/lib/systemd/system/tetherd-open.socket /usr/lib/sysusers.d/tether.conf \
	/etc/tether/tetherd.conf /usr/share/man/man8/tetherd.8.gz \
	/usr/share/man/man5/tetherd.conf.5.gz \
	/usr/share/bash-completion/completions/tetherd
has_files "tether holds the client, the token plugin and its page" \
	"${debs[1]}" /usr/bin/tether /usr/libexec/tether/tether-luks \
	/lib/systemd/system-generators/tether-cryptsetup-generator \
	/lib/systemd/system/tether-heartbeat@.service \
	/lib/systemd/system/tether-heartbeat@.timer \
	"/usr/lib/$ma/cryptsetup/libcryptsetup-token-clevis.so" \
	/usr/share/man/man1/tether.1.gz \
	/usr/share/bash-completion/completions/tether
has_files "tether-initramfs-tools holds the hook and boot scripts" \
	"${debs[2]}" /usr/share/initramfs-tools/hooks/tether \
	/usr/share/initramfs-tools/scripts/local-top/tether \
	/usr/share/initramfs-tools/scripts/local-bottom/tether
if dpkg-deb -c "${debs[1]}" | grep -q '/sbin/tetherd\|initramfs-tools' ||
	dpkg-deb -c "${debs[0]}" | grep -q 'bin/tether$\|cryptsetup/'; then
	not_ok "server, client and initramfs files are each in one package"
else
	ok "server, client and initramfs files are each in one package"
fi

debian_root "$W/root.tar" "$DEBIAN_HOST" || bail "a Debian 12 root is made with mmdebstrap" \
	"$(tail -n 20 "$W/mmdebstrap.log")"
ok "a Debian 12 root is made with mmdebstrap"

# new_root DIR: a fresh copy of the root with tether's packages beside it.
new_root() {
	mkdir -p "$1" && tar -C "$1" -xf "$W/root.tar" &&
		mkdir -p "$1/tmp/debs" && cp "${debs[@]}" "$1/tmp/debs/"
}
in_root() { # DIR COMMAND...: COMMAND inside the root, with its own /proc
	local r=$1
	shift
	unshare -m --propagation private sh -c \
		'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$r" "$@"
}
wants() { # DIR UNIT TARGET: UNIT is enabled there
	[ -L "$1/etc/systemd/system/$3.wants/$2" ]
}

# 1. Installed where tang's socket is not enabled: tetherd.socket is.
R=$W/fresh
new_root "$R" || bail "root unpacked"
rm -f "$R/etc/systemd/system/sockets.target.wants/tangd.socket"
if in_root "$R" sh -c 'dpkg -i /tmp/debs/*.deb' >"$W/install.out" 2>&1; then
	ok "dpkg installs the three packages"
else
	not_ok "dpkg installs the three packages" "$(tail -n 20 "$W/install.out")"
fi
check "the service user exists, with no shell" \
	sh -c "grep -q '^tether:.*:/usr/sbin/nologin$' '$R/etc/passwd'"
check "tetherd.socket is enabled" wants "$R" tetherd.socket sockets.target
if wants "$R" tetherd.service multi-user.target; then
	not_ok "tetherd.service starts only through its socket"
else
	ok "tetherd.service starts only through its socket"
fi
check "installing the initramfs package runs update-initramfs" \
	grep -q 'Processing triggers for initramfs-tools' "$W/install.out"
check "tang's and clevis's files are unchanged (dpkg -V)" \
	sh -c "[ -z \"\$(chroot '$R' dpkg -V tang clevis clevis-luks clevis-initramfs)\" ]"
check "the dependencies are satisfied (apt-get check)" \
	in_root "$R" apt-get check
luks_help() { in_root "$R" tether luks --help 2>&1 | grep -q 'tether luks bind'; }
check "tether luks runs the installed tether-luks" luks_help

# The installed programs work in a clean Debian: a server in the root,
# a binding made and recovered by the installed client.
PORT=$(free_port)
mkdir -p "$R/srv/keys"
in_root "$R" tetherd keys create --keys /srv/keys >/dev/null 2>&1
chown -R 0:0 "$R/srv/keys"
# As in_root, but as one process from unshare to tetherd (no shell left
# between), so that clean-up's signal reaches the server itself.
unshare -m --propagation private sh -c \
	'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$R" \
	tetherd serve --keys /srv/keys --listen "http://127.0.0.1:$PORT" \
	>"$W/tetherd.log" 2>&1 &
test_pids+=("$!")
if wait_http "http://127.0.0.1:$PORT/adv"; then
	cfg="{\"url\":\"http://127.0.0.1:$PORT\"}"
	got=$(echo installed | in_root "$R" tether encrypt tang "$cfg" -y |
		in_root "$R" tether decrypt)
	check_eq "the installed tetherd and tether bind and recover" installed "$got"
else
	not_ok "the installed tetherd and tether bind and recover" \
		"$(cat "$W/tetherd.log")"
fi

# 2. Purge keeps the keys and the clients file.
mkdir -p "$R/var/lib/tether"
in_root "$R" tetherd keys create --keys /var/lib/tether >/dev/null 2>&1
in_root "$R" tetherd clients add web1 --clients /var/lib/tether/clients >/dev/null 2>&1
before=$(cd "$R/var/lib/tether" && ls | sort | tr '\n' ' ')
if in_root "$R" dpkg --purge tether-initramfs-tools tether tetherd \
	>"$W/purge.out" 2>&1; then
	ok "dpkg purges the three packages"
else
	not_ok "dpkg purges the three packages" "$(tail -n 20 "$W/purge.out")"
fi
after=$(cd "$R/var/lib/tether" 2>/dev/null && ls | sort | tr '\n' ' ')
check_eq "purging keeps the keys and the clients file" "$before" "$after"
case $before in
*.jwk*clients* | *clients*.jwk*) ok "the kept files were keys and a clients file" ;;
*) not_ok "the kept files were keys and a clients file" "$before" ;;
esac
if wants "$R" tetherd.socket sockets.target; then
	not_ok "purging disables tetherd.socket"
else
	ok "purging disables tetherd.socket"
fi

# 3. Installed where tang's socket is enabled: port 80 stays tang's.
R=$W/beside-tang
new_root "$R" || bail "root unpacked"
in_root "$R" sh -c 'dpkg -i /tmp/debs/*.deb' >"$W/install2.out" 2>&1
check "beside tang's enabled socket, tetherd.socket is left disabled" \
	sh -c "! [ -e '$R/etc/systemd/system/sockets.target.wants/tetherd.socket' ]"
check "tangd.socket stays enabled" wants "$R" tangd.socket sockets.target
check "the install says how to switch port 80 to tetherd" \
	grep -q 'systemctl enable --now tetherd.socket' "$W/install2.out"

# 4. Upgrade in place: the same packages at a lower version installed
# first, used, then these installed over them.
# older_deb DEB OUT: DEB repacked as version 0.0.1 (and its relations to
# its sibling packages with it).
older_deb() {
	local x=$W/repack v
	rm -rf "$x" && dpkg-deb -R "$1" "$x" || return 1
	v=$(dpkg-deb -f "$1" Version)
	sed -i -e "s/^Version: .*/Version: 0.0.1/" \
		-e "s/(\([<>=]*\) $v)/(\1 0.0.1)/g" "$x/DEBIAN/control"
	dpkg-deb -b "$x" "$2" >/dev/null
}
R=$W/upgrade
new_root "$R" || bail "root unpacked"
rm -f "$R/etc/systemd/system/sockets.target.wants/tangd.socket"
mkdir -p "$R/tmp/old"
for d in "${debs[@]}"; do
	older_deb "$d" "$R/tmp/old/$(basename "$d")" || bail "an older version of $(basename "$d") is made"
done
if in_root "$R" sh -c 'dpkg -i /tmp/old/*.deb' >"$W/old.out" 2>&1; then
	ok "upgrade: version 0.0.1 installs"
else
	not_ok "upgrade: version 0.0.1 installs" "$(tail -n 20 "$W/old.out")"
fi
# What an operator has by then: keys, a client, an edited config, a
# volume bound to the server.
mkdir -p "$R/var/lib/tether"
in_root "$R" tetherd keys create --keys /var/lib/tether >/dev/null 2>&1
in_root "$R" tetherd clients add web1 --clients /var/lib/tether/clients >/dev/null 2>&1
echo "rec-rate = 99" >>"$R/etc/tether/tetherd.conf"
thp_before=$(in_root "$R" tetherd keys list --keys /var/lib/tether 2>&1 | sort)
clients_before=$(in_root "$R" tetherd clients list --clients /var/lib/tether/clients 2>&1)
truncate -s 20M "$R/srv/vol.img"
printf 'volume pw' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000 "$R/srv/vol.img" -
printf 'volume pw' >"$R/srv/pw"
PORT=$(free_port)
# serve_root: the root's tetherd on the keys it has, as one process.
serve_root() {
	unshare -m --propagation private sh -c \
		'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$R" \
		tetherd serve --keys /var/lib/tether --listen "http://127.0.0.1:$PORT" \
		>>"$W/upgrade-tetherd.log" 2>&1 &
	SERVE_PID=$!
	test_pids+=("$SERVE_PID")
	wait_http "http://127.0.0.1:$PORT/adv"
}
serve_root || not_ok "upgrade: the old tetherd serves" "$(cat "$W/upgrade-tetherd.log")"
check "upgrade: the old tether binds a volume to it" in_root "$R" tether luks bind \
	-d /srv/vol.img -k /srv/pw -y tang "{\"url\":\"http://127.0.0.1:$PORT\"}"
stop_pid "$SERVE_PID"
if in_root "$R" sh -c 'dpkg -i /tmp/debs/*.deb' >"$W/upgrade.out" 2>&1; then
	ok "upgrade: the new packages install over the old"
else
	not_ok "upgrade: the new packages install over the old" "$(tail -n 20 "$W/upgrade.out")"
fi
check_eq "upgrade: the new version is installed" "$(dpkg-deb -f "${debs[0]}" Version)" \
	"$(chroot "$R" dpkg-query -W -f='${Version}' tetherd)"
check_eq "upgrade: the keys are the same" "$thp_before" \
	"$(in_root "$R" tetherd keys list --keys /var/lib/tether 2>&1 | sort)"
check_eq "upgrade: the clients file is the same" "$clients_before" \
	"$(in_root "$R" tetherd clients list --clients /var/lib/tether/clients 2>&1)"
check "upgrade: the operator's edit of tetherd.conf is kept" \
	grep -qx 'rec-rate = 99' "$R/etc/tether/tetherd.conf"
check "upgrade: tetherd.socket is still enabled" wants "$R" tetherd.socket sockets.target
serve_root || not_ok "upgrade: the new tetherd serves" "$(cat "$W/upgrade-tetherd.log")"
in_root "$R" tether luks pass -d /srv/vol.img -s 1 >"$W/slot1.key" 2>"$W/pass.err"
check "upgrade: the new tether recovers the old binding's key, which opens its slot" \
	cryptsetup open --test-passphrase -S 1 --key-file "$W/slot1.key" "$R/srv/vol.img"
stop_pid "$SERVE_PID"

# 5. Installed sizes beside Debian's NBDE packages, from the same root.
sizes=$(chroot "$R" dpkg-query -W -f='${Package} ${Installed-Size}\n' \
	tetherd tether tether-initramfs-tools tang clevis clevis-luks clevis-initramfs)
echo "# installed size (KiB): $(echo "$sizes" | tr '\n' ' ')"
t_sum=$(echo "$sizes" | awk '$1 ~ /^tether/ { s += $2 } END { print s }')
c_sum=$(echo "$sizes" | awk '$1 !~ /^tether/ { s += $2 } END { print s }')
echo "# tether's three packages $t_sum KiB, Debian's tang+clevis+clevis-luks+clevis-initramfs $c_sum KiB," \
	"ratio $(awk -v t="$t_sum" -v c="$c_sum" 'BEGIN { printf "%.2f", t / c }')"

# 6. bash completion, as bash-completion runs it.
# complete FUNCTION WORD...: what FUNCTION offers for the last WORD.
complete_words() {
	local fn=$1 file=$2
	shift 2
	PATH=$(dirname "$TETHER"):$(dirname "$TETHERD"):$PATH bash -c '
		. /usr/share/bash-completion/bash_completion
		. "$1"; fn=$2; shift 2
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' sh "$file" "$fn" "$@"
}
comp=$TETHER_SOURCE_ROOT/completion
check_eq "tether completes its commands" "luks" \
	"$(complete_words _tether "$comp/tether" tether lu)"
check_eq "tether luks completes subcommands" "$(printf 'regen\nreport')" \
	"$(complete_words _tether "$comp/tether" tether luks re)"
truncate -s 20M "$W/luks.img"
printf 'pw' | cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 \
	--pbkdf-force-iterations 1000 --key-slot 3 "$W/luks.img" - &&
	printf 'pw' | cryptsetup luksAddKey -q --pbkdf pbkdf2 \
		--pbkdf-force-iterations 1000 --key-slot 7 "$W/luks.img" \
		--key-file <(printf 'pw') <(printf 'pw2') 2>/dev/null
check_eq "tether luks completes the device's slots" "$(printf '3\n7')" \
	"$(complete_words _tether "$comp/tether" tether luks unbind -d "$W/luks.img" -s '')"
check_eq "tetherd completes serve's options" \
	"$(printf -- '--listen\n--listen-open')" \
	"$(complete_words _tetherd "$comp/tetherd" tetherd serve --list)"
"$TETHERD" clients add alpha --clients "$W/clients" >/dev/null
"$TETHERD" clients add beta --clients "$W/clients" >/dev/null
check_eq "tetherd completes client names from the clients file" \
	"$(printf 'alpha\nbeta')" \
	"$(complete_words _tetherd "$comp/tetherd" tetherd clients disable --clients "$W/clients" '')"

done_testing

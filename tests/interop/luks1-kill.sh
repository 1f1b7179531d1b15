#!/usr/bin/env bash
# luks-kill.sh's kills on a LUKS1 image: bind and unbind at each write(2),
# regen at each fsync(2). Whatever the header holds after a kill, the
# passphrase opens it and a binding does; after the next command no
# keyslot is left that neither the passphrase nor a binding accounts for,
# and no clevis luksmeta data beside an inactive keyslot. LUKS1 has no
# tokens to mark work in progress with: a kill inside libcryptsetup's
# removal of a keyslot (its key material wiped, the header still listing
# it) leaves a binding that no longer opens it, and regen's spare binding
# is not told from others; both are counted and printed, not failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/luks-lib.sh"

kill_setup luks1 -f

LUKS1_LIMITS=1
run_kills bind write 1 3 4 bind -y -d "$TEST_DIR/cut.img" \
	-k "$TEST_DIR/passfile" tang "$CFG"
run_kills unbind write 1 2 1 unbind -f -d "$TEST_DIR/cut.img" -s 1
run_kills regen fsync 1 2 2 regen -q -d "$TEST_DIR/cut.img" -s 1

done_testing

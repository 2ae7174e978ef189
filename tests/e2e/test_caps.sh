#!/usr/bin/env bash
# sluiced runs with exactly the capabilities packaging/sluiced.service
# leaves it (CapabilityBoundingSet, read from the unit file), as uid 0
# without the others (no CAP_SYS_ADMIN, no CAP_DAC_OVERRIDE...) and with
# no_new_privs, as systemd would start it: it attaches, balances new
# connections as Maglev predicts, runs its health checks, accepts a breaker
# mode and a reload from the CLI, and a restarted daemon adopts the pinned
# maps and keeps balancing. bpffs is mounted beforehand, as the unit's
# ExecStartPre does outside the sandbox.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
SLUICE=$LAB_BUILD/sluice
UNIT=$LAB_TOP/packaging/sluiced.service
[ -x "$SLUICE" ] || lab_skip "$SLUICE not built (make all)"
command -v jq >/dev/null || lab_skip "jq not installed (make deps)"
command -v setpriv >/dev/null || lab_skip "setpriv not installed"
command -v capsh >/dev/null || CAPSH=

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ -n "$caps" ] || lab_fail "no CapabilityBoundingSet in $UNIT"
# setpriv's form: -all,+bpf,+net_admin,...
spec=-all
for c in $caps; do
	c=${c#CAP_}
	spec+=",+${c,,}"
done
echo "capabilities from the unit: $caps (setpriv $spec)"
# a container may itself lack some (seen here: CAP_SYS_RESOURCE): say so
bnd=$(awk '/^CapBnd/ { print $2 }' /proc/self/status)
for c in $caps; do
	bit=$(sed -n "s/^#define ${c}[[:space:]]*\([0-9]*\).*/\1/p" /usr/include/linux/capability.h)
	[ -n "$bit" ] && ! (((0x$bnd >> bit) & 1)) && echo "  note: $c is not in this machine's bounding set: tested without it"
done

trap lab_down EXIT
lab_trap_signals
lab_up || lab_fail "lab_up"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf || lab_fail "cannot mount bpffs"

# sluiced under those capabilities only
wrapper=$LAB_DIR/sluiced-caps
cat >"$wrapper" <<EOF
#!/bin/sh
exec setpriv --no-new-privs --inh-caps=-all --bounding-set=$spec -- "$LAB_SLUICED" "\$@"
EOF
chmod 0755 "$wrapper"
LAB_SLUICED=$wrapper

sl() { lab_gw_exec "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }
conf=$LAB_DIR/sluice.conf
LAB_SVC_EXTRA='check = { type = "tcp"; interval_ms = 100; timeout_ms = 100; rise = 1; fall = 2; };
    connect_timeout_ms = 200; redispatch_max = 2;'
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start with $caps"
eff=$(awk '/^CapEff/ { print $2 }' "/proc/$LAB_SLUICED_PID/status")
echo "  sluiced pid $LAB_SLUICED_PID CapEff $eff${CAPSH:+ ($(capsh --decode="$eff" 2>/dev/null | cut -d= -f2))}"
grep -q '^NoNewPrivs:[[:space:]]*1' "/proc/$LAB_SLUICED_PID/status" || lab_fail "no_new_privs not set"
# CAP_SYS_ADMIN is bit 21: it must not be there
(((0x$eff >> 21) & 1)) && lab_fail "CAP_SYS_ADMIN is effective: the test does not restrict"
lab_xdp_attached gw-c || lab_fail "XDP not attached"

echo "balancing and health checks"
lab_check_burst "$conf" web "$LAB_VIP4" 40 --check-stats || lab_fail "v4 burst"
lab_check_burst "$conf" web6 "$LAB_VIP6" 20 || lab_fail "v6 burst"
for ((k = 0; k < 100; k++)); do
	[ "$(sl -j backend list | jq '[.[] | select(.health == "up")] | length')" = 6 ] && break
	sleep 0.1
done
((k < 100)) || lab_fail "health checks do not pass: $(sl -j backend list)"

echo "control socket: a breaker mode, a reload"
sl breaker drain web "${LAB_BK4[2]}" || lab_fail "breaker drain: exit $?"
[ "$(sl -j breaker show web "${LAB_BK4[2]}" | jq -r .gate)" = draining ] || lab_fail "not draining"
sl breaker auto web "${LAB_BK4[2]}" || lab_fail "breaker auto: exit $?"
sl backend set web "${LAB_BK4[1]}" weight 0 || lab_fail "backend set: exit $?"
sl reload || lab_fail "reload: exit $?"
[ "$(sl -j backend show web "${LAB_BK4[1]}" | jq -r .weight)" = 1 ] || lab_fail "reload did not return to the file"

echo "restart: the new daemon adopts the pins"
lab_stop_sluiced || lab_fail "sluiced did not stop cleanly"
lab_start_sluiced "$conf" || lab_fail "sluiced did not restart with $caps"
grep -q 'adopt' "$LAB_SLUICED_LOG" || lab_fail "no adoption in the log"
lab_check_burst "$conf" web "$LAB_VIP4" 40 --check-stats || lab_fail "burst after the restart"
echo "a connect b2 leaves unanswered: sluiced sends the client's SYN on (live frame or replay)"
# b2 drops the client's packets only: its health check (from the
# gateway) passes, the flow stays on b2 until connect_timeout_ms
lab_exec b2 nft -f - <<EOF || lab_fail "nft"
table inet sl_caps {
	chain in { type filter hook input priority -300; ip saddr $LAB_CLIENT4 drop; }
}
EOF
lab_sport_for "$conf" web b2 || lab_fail "no source port for b2"
r0=$(lab_syn_retrans)
lab_c_exec "$LAB_TOOLS/slconn" burst "$LAB_VIP4" "$LAB_PORT" --sport-base "$LAB_SPORT" --count 1 \
	--timeout-ms 3000 >/dev/null || lab_fail "the connection b2 left unanswered failed"
r1=$(lab_syn_retrans)
m=$(lab_bk_field 2 redispatched)
lab_exec b2 nft delete table inet sl_caps
echo "  b2: moved $m; client SYN retransmissions $r0 -> $r1"
((m == 1)) || lab_fail "the flow was not redispatched off b2 (moved $m)"
[ "$r1" = "$r0" ] || lab_fail "the client retransmitted its SYN: sluiced did not send it on"
if grep -E '<[34]>' "$LAB_SLUICED_LOG" | grep -iE 'permission|not permitted|EPERM'; then
	lab_fail "permission errors in the log (above)"
fi
echo "PASS: sluiced with only $caps (no_new_privs): attach, balance, checks, CLI, reload, adoption, redispatch"

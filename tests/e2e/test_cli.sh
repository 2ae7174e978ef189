#!/usr/bin/env bash
# The CLI against a running sluiced in the lab: JSON output parses with the
# expected fields; a runtime weight of 0 set with the CLI keeps new
# connections off that backend (exactly as Maglev predicts for that weight)
# and `sluice reload` returns to the file; a mutating command from an
# unprivileged user exits 2 and changes nothing, unless the user is in the
# config's control_group (as supplementary or primary group; a refusal is
# logged with uid and pid); a dump larger than one
# datagram pages through; errors from the daemon exit 2 with its message;
# no daemon exits 3; docs/protocol.md matches the tables.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
SLUICE=$LAB_BUILD/sluice
[ -x "$SLUICE" ] || lab_skip "$SLUICE not built (make all)"
command -v jq >/dev/null || lab_skip "jq not installed (make deps)"
command -v setpriv >/dev/null || lab_skip "setpriv not installed"
trap lab_down EXIT
lab_trap_signals

# sluice in the gateway's namespace (NETLINK_USERSOCK is per namespace)
sl() { lab_gw_exec "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }
sl_nobody() { lab_gw_exec setpriv --reuid=65534 --regid=65534 --clear-groups "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }
weight_of() { sl -j backend show web "$1" | jq -r .weight; }

diff -u docs/protocol.md <("$SLUICE" protocol doc) >/dev/null ||
	lab_fail "docs/protocol.md is stale: make protocol-doc"

lab_up || lab_fail "lab_up"
chmod 0755 "$LAB_DIR"           # let the unprivileged user reach the port id file
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

echo "port id file"
[ "$(stat -c %a "$LAB_RUN_DIR/ctl.portid")" = 644 ] || lab_fail "ctl.portid is not mode 0644"

echo "JSON output"
out=$(sl -j service list) || lab_fail "service list: exit $?"
jq -e 'length == 2 and (map(.service) | sort) == ["web", "web6"] and
       all(.[]; has("vip") and has("port") and has("proto") and has("nr_backends") and has("id"))' \
	<<<"$out" >/dev/null || lab_fail "service list JSON: $out"
out=$(sl -j -s backend list web) || lab_fail "backend list: exit $?"
jq -e 'length == 3 and all(.[]; .weight == 1 and .state == "active" and has("packets") and has("new_flows"))' \
	<<<"$out" >/dev/null || lab_fail "backend list -s JSON: $out"
sl -p version | jq -e '.proto_version == 1 and (.config_file | length > 0)' >/dev/null ||
	lab_fail "version JSON"
sl -j stats | jq -e '.nr_services == 2 and (.reasons | has("not_ours"))' >/dev/null || lab_fail "stats JSON"
sl service show web | grep -q "^web vip $LAB_VIP4 port 80 tcp" || lab_fail "service show text: $(sl service show web)"

echo "errors from the daemon: exit 2 and its message"
err=$(sl backend show nosuch 198.19.0.11 2>&1); rc=$?
[ $rc = 2 ] && grep -q "no service named nosuch" <<<"$err" || lab_fail "unknown service: exit $rc, '$err'"
err=$(sl backend set web 198.19.0.99 weight 3 2>&1); rc=$?
[ $rc = 2 ] && grep -q "has no backend 198.19.0.99" <<<"$err" || lab_fail "unknown backend: exit $rc, '$err'"
sl backend set web 198.19.0.11 weight 70000 2>/dev/null; rc=$?
[ $rc = 1 ] || lab_fail "weight 70000: exit $rc, want 1 (usage)"

echo "unprivileged: reads allowed, changes refused"
sl_nobody -j service list >/dev/null || lab_fail "service list as nobody: exit $?"
err=$(sl_nobody backend set web "${LAB_BK4[1]}" weight 0 2>&1); rc=$?
[ $rc = 2 ] && grep -q "Operation not permitted" <<<"$err" || lab_fail "set as nobody: exit $rc, '$err'"
err=$(sl_nobody reload 2>&1); rc=$?
[ $rc = 2 ] || lab_fail "reload as nobody: exit $rc, '$err'"
[ "$(weight_of "${LAB_BK4[1]}")" = 1 ] || lab_fail "weight changed by a refused request"
grep -q "refused BACKEND_SET from uid 65534 pid [0-9]" "$LAB_SLUICED_LOG" || lab_fail "refusal not logged"

echo "control_group: its members may change state, others not"
grp=$(getent group staff | cut -d: -f3)
[ -n "$grp" ] || lab_fail "no group staff on this system"
sed -i "1a control_group = \"staff\";" "$conf"
sl reload || lab_fail "reload with control_group: exit $?"
sl_member() { lab_gw_exec setpriv --reuid=65534 --regid=65534 --groups="$grp" "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }
sl_primary() { lab_gw_exec setpriv --reuid=65534 --regid="$grp" --clear-groups "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }
sl_member backend set web "${LAB_BK4[1]}" weight 3 || lab_fail "set as a member (supplementary group): exit $?"
[ "$(weight_of "${LAB_BK4[1]}")" = 3 ] || lab_fail "weight not 3 after a member's set"
sl_primary backend set web "${LAB_BK4[1]}" weight 4 || lab_fail "set as a member (primary group): exit $?"
[ "$(weight_of "${LAB_BK4[1]}")" = 4 ] || lab_fail "weight not 4 after a member's set"
err=$(sl_nobody backend set web "${LAB_BK4[1]}" weight 0 2>&1); rc=$?
[ $rc = 2 ] && grep -q "only uid 0 or group staff" <<<"$err" || lab_fail "set as a non-member: exit $rc, '$err'"
[ "$(weight_of "${LAB_BK4[1]}")" = 4 ] || lab_fail "weight changed by a non-member"
grep -q "refused BACKEND_SET from uid 65534 pid [0-9]*.*only uid 0 or group staff" "$LAB_SLUICED_LOG" ||
	lab_fail "refusal of a non-member not logged"
sed -i '/^control_group/d' "$conf"
sl reload || lab_fail "reload without control_group: exit $?"
err=$(sl_member backend set web "${LAB_BK4[1]}" weight 3 2>&1); rc=$?
[ $rc = 2 ] || lab_fail "set by a staff member without control_group: exit $rc, '$err'"
[ "$(weight_of "${LAB_BK4[1]}")" = 1 ] || lab_fail "weight not back to 1 after reload"

echo "runtime weight 0 on b1: new connections avoid it"
sl backend set web "${LAB_BK4[1]}" weight 0 || lab_fail "backend set weight 0: exit $?"
[ "$(weight_of "${LAB_BK4[1]}")" = 0 ] || lab_fail "weight not 0 after set"
sed "s/\"${LAB_BK4[1]}\"; port = $LAB_PORT; weight = 1;/\"${LAB_BK4[1]}\"; port = $LAB_PORT; weight = 0;/" \
	"$conf" >"$LAB_DIR/w0.conf"
grep -q "weight = 0" "$LAB_DIR/w0.conf" || lab_fail "could not derive the weight-0 config"
lab_check_burst "$LAB_DIR/w0.conf" web "$LAB_VIP4" 60 --exclude b1 || lab_fail "connections after weight 0"

echo "sluice reload returns to the file"
sl reload || lab_fail "reload: exit $?"
[ "$(weight_of "${LAB_BK4[1]}")" = 1 ] || lab_fail "weight not back to 1 after reload"
lab_check_burst "$conf" web "$LAB_VIP4" 60 || lab_fail "connections after reload"

echo "a dump larger than one datagram pages through"
n=400
{
	head -n -1 "$conf"
	for ((i = 0; i < n; i++)); do
		printf '  , { name = "s%d"; vip = "198.18.2.%d"; port = %d; proto = "tcp";\n' $i $((i % 250 + 1)) $((1000 + i))
		printf '      backends = ( { addr = "198.19.0.13"; port = %d; } ); }\n' $((2000 + i))
	done
	echo ");"
} >"$LAB_DIR/big.conf"
cp "$LAB_DIR/big.conf" "$conf"
sl reload || lab_fail "reload of the big config: exit $?"
got=$(sl -j service list | jq length) || lab_fail "big service list"
[ "$got" = $((n + 2)) ] || lab_fail "big service list: $got services, want $((n + 2))"
got=$(sl -j -s backend list | jq length) || lab_fail "big backend list"
[ "$got" = $((n + 6)) ] || lab_fail "big backend list: $got backends, want $((n + 6))"
if command -v strace >/dev/null; then   # it took more than one request: pages
	lab_gw_exec strace -o "$LAB_DIR/strace" -e trace=sendto "$SLUICE" -R "$LAB_RUN_DIR" -j service list >/dev/null ||
		lab_fail "service list under strace"
	got=$(grep -c '^sendto(' "$LAB_DIR/strace")
	((got >= 2)) || lab_fail "service list of $((n + 2)) services took $got request(s): no paging"
	echo "  $((n + 2)) services in $got pages"
fi

echo "no daemon: exit 3"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly"
sl version >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || lab_fail "version without sluiced: exit $rc, want 3"
echo 4000000 >"$LAB_RUN_DIR/ctl.portid"      # a stale file naming no socket
sl -j service list >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || lab_fail "service list with a stale port id: exit $rc, want 3"
echo "PASS: sluice CLI: JSON, runtime weight, reload, refusal, control_group, paging, exit codes"

#!/usr/bin/env bash
# Reload keeps established flows: a keep-alive connection per family runs
# while a config without another backend is applied (SIGHUP); both must
# finish without a failed request, on the backend they started on. A third
# keep-alive connection, on the removed backend itself, must drain: keep
# working, on that backend, though no new flow may go there. After the
# reload no new connection may land on the removed backend, and every one
# must land where Maglev over the new config says. Then the backend is
# added back, and new flows must again follow the full config.
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
trap lab_down EXIT
lab_trap_signals

N=100
lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

lab_hold_start v4 "$LAB_VIP4" 120 || lab_fail "IPv4 keep-alive connection"
h4=$LAB_HOLD_BACKEND
lab_hold_start v6 "$LAB_VIP6" 120 || lab_fail "IPv6 keep-alive connection"
h6=$LAB_HOLD_BACKEND
echo "keep-alive connections: IPv4 on $h4, IPv6 on $h6"

# A backend neither connection uses (three backends, two connections).
gone=
for b in 1 2 3; do
	[ "b$b" != "$h4" ] && [ "b$b" != "$h6" ] && { gone=$b; break; }
done
keep=$(for b in 1 2 3; do [ "$b" != "$gone" ] && echo "$b"; done | tr '\n' ' ')
lab_sport_for "$conf" web "b$gone" || lab_fail "no source port leads to b$gone"
lab_hold_start drain "$LAB_VIP4" 120 "$LAB_SPORT" || lab_fail "IPv4 keep-alive connection to b$gone"
[ "$LAB_HOLD_BACKEND" = "b$gone" ] ||
	lab_fail "source port $LAB_SPORT: predicted b$gone, answered by $LAB_HOLD_BACKEND"
echo "keep-alive connection to b$gone (IPv4, source port $LAB_SPORT)"
echo "removing b$gone (keeping $keep) and reloading"
# shellcheck disable=SC2086
lab_write_config "$conf" both $keep || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload without b$gone"
lab_hold_advance v4 20 || lab_fail "IPv4 keep-alive stalled after the reload"
lab_hold_advance v6 20 || lab_fail "IPv6 keep-alive stalled after the reload"
lab_hold_advance drain 20 || lab_fail "keep-alive to the removed b$gone stalled after the reload"
# While its flow lasts, the removed backend keeps its slot, marked gone.
st=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | grep " ${LAB_BK4[gone]}:$LAB_PORT ")
echo "  slstat: $st"
case $st in *" gone") ;; *) lab_fail "slstat does not show b$gone as gone while its flow drains" ;; esac
lab_check_burst "$conf" web "$LAB_VIP4" $N --exclude "b$gone" || lab_fail "IPv4 new flows after removing b$gone"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N --exclude "b$gone" || lab_fail "IPv6 new flows after removing b$gone"

echo "adding b$gone back and reloading"
lab_write_config "$conf" both 1 2 3 || lab_fail "lab_write_config"
lab_reload_sluiced || lab_fail "reload with b$gone back"
lab_hold_advance v4 20 || lab_fail "IPv4 keep-alive stalled after the second reload"
lab_hold_advance v6 20 || lab_fail "IPv6 keep-alive stalled after the second reload"
lab_check_burst "$conf" web "$LAB_VIP4" $N || lab_fail "IPv4 new flows after adding b$gone back"
lab_check_burst "$conf" web6 "$LAB_VIP6" $N || lab_fail "IPv6 new flows after adding b$gone back"
case " $LAB_SPREAD " in *" b$gone "*) ;; *) lab_fail "no new IPv6 flow reached b$gone after it came back" ;; esac

lab_hold_stop v4 "$h4" || lab_fail "IPv4 keep-alive connection broke or moved"
lab_hold_stop v6 "$h6" || lab_fail "IPv6 keep-alive connection broke or moved"
lab_hold_stop drain "b$gone" || lab_fail "keep-alive connection to the removed b$gone broke or moved"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: established flows kept their backend across two reloads (one drained from a removed backend); new flows followed each config"

#!/usr/bin/env bash
# kill -9 in the middle of changes. A loop (3 cycles; SL_SOAK=1: 24), seeded
# (SL_SEED reproduces the choices and delays): start one change, either a
# reload (a new config file with another set of backends, then SIGHUP) or a
# runtime change through the CLI (backend set ... weight N, backend del,
# backend add), SIGKILL sluiced after a random delay of 0-300 ms, start it
# again on the config file. Runtime changes are lost on restart by design:
# the file's config is what must be in force afterwards.
#
# After every restart:
#  - `sluice -j backend list web` shows exactly the file's backends, each at
#    the file's weight (1), active;
#  - the maps (slstat: active backends that are not "gone") hold exactly the
#    file's backends;
#  - new connections land on the backend slpredict computes from the file
#    (the Maglev table in the kernel is the file's);
#  - two keep-alive connections started at the beginning (IPv4, on a
#    backend every config keeps) never fail and never move, while sluiced is
#    dead and after.
# Prints one "kill9_changes:" summary line (bench/abuse.sh reads it).
set -uo pipefail
# shellcheck source=lab.sh
. "$(dirname "$0")/lab.sh"
lab_require
lab_require_sluiced
SLUICE=$LAB_BUILD/sluice
[ -x "$SLUICE" ] || lab_skip "$SLUICE not built (make all)"
command -v jq >/dev/null || lab_skip "jq not installed (make deps)"
trap lab_down EXIT
lab_trap_signals

CYCLES=3
if [ -n "${SL_SOAK:-}" ] && [ "$SL_SOAK" != 0 ]; then CYCLES=24; fi
SEED=${SL_SEED:-$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')}
RANDOM=$SEED
echo "kill9_changes: seed $SEED (SL_SEED=$SEED reproduces), $CYCLES cycles"

sl() { timeout 10 nsenter --net="/run/netns/$LAB_PREFIX-gw" -- "$SLUICE" -R "$LAB_RUN_DIR" "$@"; }

lab_up || lab_fail "lab_up"
conf=$LAB_DIR/sluice.conf
LAB_TOP_EXTRA='reconcile_ms = 200;'
lab_write_config "$conf" v4 1 2 3 || lab_fail "lab_write_config"
lab_start_sluiced "$conf" || lab_fail "sluiced did not start"

lab_hold_start h1 "$LAB_VIP4" 600 || lab_fail "keep-alive connection 1"
hb=${LAB_HOLD_BACKEND#b}
# the second one from a port Maglev sends to the same backend
lab_sport_for "$conf" web "b$hb" || lab_fail "no source port for b$hb"
lab_hold_start h2 "$LAB_VIP4" 600 "$LAB_SPORT" || lab_fail "keep-alive connection 2"
[ "$LAB_HOLD_BACKEND" = "b$hb" ] || lab_fail "second keep-alive connection on $LAB_HOLD_BACKEND, not b$hb"
echo "  keep-alive connections on b$hb: every config keeps it"
others=()
for i in 1 2 3; do [ "$i" = "$hb" ] || others+=("$i"); done

file_set=(1 2 3)        # the backends of the config file in force
mismatches=0 cycles=0 kinds=

# check: what sluice shows and holds is the file's config
check() {
	local want got maps i
	want=$(for i in "${file_set[@]}"; do echo "${LAB_BK4[i]} 1 active"; done | sort | tr '\n' ' ')
	got=$(sl -j backend list web | jq -r '.[] | "\(.addr) \(.weight) \(.state)"' | sort | tr '\n' ' ')
	maps=$("$LAB_TOOLS/slstat" "$LAB_PIN_ROOT" | awk '$1 == "backend" && $NF != "gone" { sub(/:[0-9]+$/, "", $3); print $3 }' |
		sort | tr '\n' ' ')
	if [ "$got" != "$want" ]; then
		echo "  backend list: '$got', the file says '$want'"
		return 1
	fi
	want=$(for i in "${file_set[@]}"; do echo "${LAB_BK4[i]}"; done | sort | tr '\n' ' ')
	if [ "$maps" != "$want" ]; then
		echo "  maps: '$maps', the file says '$want'"
		return 1
	fi
	lab_check_burst "$conf" web "$LAB_VIP4" 6 >"$LAB_DIR/burst.out" 2>&1 || { cat "$LAB_DIR/burst.out"; return 1; }
}

for ((c = 1; c <= CYCLES; c++)); do
	delay=$(printf '0.%03d' $((RANDOM % 300)))
	change_pid=
	case $((RANDOM % 4)) in
	0 | 1)  # reload with another set of backends (always with b$hb)
		case $((RANDOM % 3)) in
		0) new=(1 2 3) ;;
		1) new=("$hb" "${others[0]}") ;;
		*) new=("$hb" "${others[1]}") ;;
		esac
		mapfile -t new < <(printf '%s\n' "${new[@]}" | sort -n)
		lab_write_config "$conf" v4 "${new[@]}" || lab_fail "lab_write_config"
		file_set=("${new[@]}")
		what="reload to backends ${new[*]}" kind=reload
		kill -HUP "$LAB_SLUICED_PID" ;;
	2)      # runtime weight change
		w=$((RANDOM % 5 + 2))
		what="backend set b$hb weight $w" kind=set
		sl backend set web "${LAB_BK4[hb]}" weight "$w" >/dev/null 2>&1 &
		change_pid=$! ;;
	*)      # runtime del of a backend the file has, or add of one it has not
		o=${others[RANDOM % 2]}
		if printf '%s\n' "${file_set[@]}" | grep -qx "$o"; then
			what="backend del b$o" kind=del
			sl backend del web "${LAB_BK4[o]}" >/dev/null 2>&1 &
		else
			what="backend add b$o" kind=add
			sl backend add web "${LAB_BK4[o]}" port "$LAB_PORT" >/dev/null 2>&1 &
		fi
		change_pid=$! ;;
	esac
	kinds="$kinds${kinds:+,}$kind"
	sleep "$delay"
	echo "cycle $c: $what, kill -9 after ${delay}s"
	kill -KILL "$LAB_SLUICED_PID" || lab_fail "kill -9"
	wait "$LAB_SLUICED_PID" 2>/dev/null
	LAB_SLUICED_PID=
	[ -n "$change_pid" ] && wait "$change_pid" 2>/dev/null
	for dev in gw-c gw-b1 gw-b2 gw-b3; do
		lab_xdp_attached "$dev" || lab_fail "XDP program gone from $dev after kill -9"
	done
	lab_hold_advance h1 4 || lab_fail "keep-alive 1 stalled with sluiced dead"
	lab_start_sluiced "$conf" || lab_fail "sluiced did not start again after kill -9"
	if ! check; then
		mismatches=$((mismatches + 1))
		lab_fail "cycle $c ($what): after the restart sluice is not in the file's config"
	fi
	lab_hold_advance h1 4 || lab_fail "keep-alive 1 stalled after the restart"
	lab_hold_advance h2 4 || lab_fail "keep-alive 2 stalled after the restart"
	cycles=$c
done

r=$(($(lab_hold_requests h1) + $(lab_hold_requests h2)))
lab_hold_stop h1 "b$hb" || lab_fail "keep-alive connection 1 broke or moved"
lab_hold_stop h2 "b$hb" || lab_fail "keep-alive connection 2 broke or moved"
echo "kill9_changes: cycles $cycles mismatches $mismatches broken_conns 0 hold_requests $r seed $SEED changes ${kinds:-none}"
lab_stop_sluiced || lab_fail "sluiced did not exit cleanly on SIGTERM"
echo "PASS: $cycles kill -9 during changes: the file's config in force after every restart, keep-alive connections unbroken"

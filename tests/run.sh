#!/usr/bin/env bash
# Run test suites: unit, bpf, e2e, fuzz (any of them, in the order given).
# Each test program or script is one test: exit 0 passes, 77 skips, else fails.
# The closing line is "tests: N passed, N failed".
#
# SL_BUILD: the build tree whose binaries run (default build; the e2e lab
# gets it as LAB_BUILD). SL_SANITIZE=1: that tree is the ASan+UBSan build
# (make asan): sanitizer options set here, every report goes to a file
# under $SL_BUILD/san-reports, and a test that left one fails.
set -uo pipefail
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0 failed=()
B=${SL_BUILD:-build}
[ -z "${SL_BUILD:-}" ] || export LAB_BUILD=$PWD/$B
SAN_DIR=

if [ -n "${SL_SANITIZE:-}" ]; then
	SAN_DIR=$PWD/$B/san-reports
	rm -rf "$SAN_DIR"
	mkdir -p "$SAN_DIR"
	lsan=1
	# LeakSanitizer stops the world with ptrace; some sandboxes forbid it.
	# Prove it works on a program that leaks on purpose, or say it does not.
	probe=$(ASAN_OPTIONS=detect_leaks=1 "$B/lsan_probe" 2>&1)
	if ! grep -q 'LeakSanitizer: detected memory leaks' <<<"$probe"; then
		lsan=0
		echo "run.sh: WARNING: LeakSanitizer does not work here, leak checks OFF:"
		sed 's/^/    /' <<<"$probe" | head -5
	fi
	export ASAN_OPTIONS="detect_leaks=$lsan:abort_on_error=1:halt_on_error=1:log_path=$SAN_DIR/report"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$SAN_DIR/report"
	export LSAN_OPTIONS="suppressions=$PWD/tests/asan/lsan.supp:print_suppressions=0"
	export PATH=$PWD/tests/asan/bin:$PATH      # strace: no LSan under ptrace
	echo "run.sh: sanitizer run on $B (leak checks $( ((lsan)) && echo on || echo OFF)), reports in $SAN_DIR"
fi

# san_reports NAME: after a test of a sanitizer run, 1 if any process it ran
# (sluiced, sluice, a tool) wrote a report; they are shown, then kept
# under $SAN_DIR/NAME/.
san_reports() {
	local f n=0 keep=$SAN_DIR/${1//\//_}
	for f in "$SAN_DIR"/report.*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		echo "---- sanitizer report $f"
		head -n 60 "$f"
		mkdir -p "$keep"
		mv "$f" "$keep/"
	done
	[ "$n" -eq 0 ] || { echo "$n sanitizer report(s), kept in $keep"; return 1; }
}

run_one() {
	local name=$1; shift
	local t0=$SECONDS rc
	[ -z "$SAN_DIR" ] || name=asan/$name
	echo "=== $name"
	"$@"
	rc=$?
	if [ -n "$SAN_DIR" ] && ! san_reports "$name" && ((rc == 0 || rc == 77)); then
		rc=1
	fi
	case $rc in
	0)  pass=$((pass + 1)); echo "--- PASS $name ($((SECONDS - t0))s)" ;;
	77) skip=$((skip + 1)); echo "--- SKIP $name" ;;
	*)  fail=$((fail + 1)); failed+=("$name"); echo "--- FAIL $name (exit $rc)" ;;
	esac
}

# A libFuzzer harness over each file of its seed corpus, once (no fuzzing:
# that is `make fuzz`). Quiet unless it fails.
fuzz_seeds() {
	local h=$1 name=${1##*/fuzz_} log rc
	log=build/fuzz/${1##*/}.seeds.log
	# -error_exitcode: libFuzzer's default, 77, would count as a skip here
	"$h" -error_exitcode=1 -timeout=25 -timeout_exitcode=1 tests/fuzz/corpus/"$name"/* >"$log" 2>&1
	rc=$?
	echo "$(grep -c '^Executed ' "$log") seed inputs (log: $log)"
	[ $rc -eq 0 ] || tail -40 "$log"
	[ $rc -ne 77 ] || rc=1
	return $rc
}

for suite in "$@"; do
	case $suite in
	unit) for t in "$B"/tests/unit/test_*; do [ -x "$t" ] && run_one "unit/${t##*/}" "$t"; done ;;
	bpf)  for t in "$B"/tests/bpf/test_*; do [ -x "$t" ] && run_one "bpf/${t##*/}" "$t"; done ;;
	e2e)  for t in tests/e2e/test_*.sh; do [ -f "$t" ] && run_one "e2e/${t##*/}" bash "$t"; done ;;
	fuzz) for t in build/fuzz/fuzz_*; do [ -x "$t" ] && run_one "fuzz/${t##*/}" fuzz_seeds "$t"; done ;;
	*) echo "run.sh: unknown suite $suite" >&2; exit 1 ;;
	esac
done

((${#failed[@]})) && printf 'failed: %s\n' "${failed[@]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]

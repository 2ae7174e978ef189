#!/usr/bin/env bash
# packaging/ without a lab:
# - sluice.conf.example passes `sluiced --check-config` and mentions every
#   setting sluice.conf(5) documents;
# - sluiced.service has the settings the unit promises and passes
#   `systemd-analyze verify` (ExecStart pointed at build/sluiced);
# - grafana-sluice.json is a dashboard with the expected panels, every
#   query naming only metrics sluiced exports;
# - sluice-alerts.yml passes `promtool check rules` and the unit tests in
#   tests/packaging/sluice-alerts.test.yml, naming only known metrics.
# Missing tools (systemd-analyze, promtool) skip their part; the test then
# exits 77 unless something failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
fail=0 skipped=()
bad() { echo "FAIL: $*"; fail=1; }
tmp=$(mktemp -d /tmp/sluice-packaging.XXXXXX) || exit 1
trap 'rm -rf -- "$tmp"' EXIT

# What sluiced exports, read from daemon/metrics.c (docs/operations.md
# explains each); histograms add _bucket, _sum and _count.
metrics=$(grep -o '"sluice_[a-z_]*"' daemon/metrics.c | tr -d '"' | sort -u)
[ "$(wc -w <<<"$metrics")" -ge 25 ] || bad "cannot read the metric names from daemon/metrics.c"
# known_metrics FILE WHAT: every sluice_* name in FILE is one of them
known_metrics() {
	local m
	for m in $(grep -o 'sluice_[a-z_]*' "$1" | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
		case $m in sluice_overview | sluice_alerts) continue ;; esac
		grep -qw -- "$m" <<<"$metrics" || bad "$2 uses $m, which sluiced does not export"
	done
}

echo "example config"
if [ -x build/sluiced ]; then
	build/sluiced --config packaging/sluice.conf.example --check-config || bad "sluice.conf.example does not parse"
else
	skipped+=("check-config (build/sluiced not built)")
fi
# every setting of sluice.conf(5): ".TP" then ".B name" in the settings sections
keys=$(awk '/^\.SH TOP-LEVEL SETTINGS/ { on = 1 } /^\.SH MAGLEV/ { on = 0 }
	on && prev == ".TP" && $1 == ".B" && $2 ~ /^[a-z_]+$/ { print $2 } { prev = $0 }' docs/sluice.conf.5 | sort -u)
[ "$(wc -w <<<"$keys")" -ge 40 ] || bad "found only $(wc -w <<<"$keys") settings in sluice.conf(5)"
for k in $keys; do
	grep -Eq "(^|[[:space:]{#])$k[[:space:]]*=" packaging/sluice.conf.example ||
		bad "sluice.conf.example does not mention $k"
done

echo "systemd unit"
unit=packaging/sluiced.service
for want in 'Type=notify' 'ExecStart=/usr/local/sbin/sluiced --config /etc/sluice/sluice.conf' \
	'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' 'NoNewPrivileges=yes' \
	'CapabilityBoundingSet=CAP_BPF CAP_NET_ADMIN CAP_NET_RAW CAP_PERFMON CAP_SYS_RESOURCE' \
	'AmbientCapabilities=CAP_BPF CAP_NET_ADMIN CAP_NET_RAW CAP_PERFMON CAP_SYS_RESOURCE' \
	'ProtectSystem=strict' 'ReadWritePaths=/sys/fs/bpf /run/sluice' 'ProtectHome=yes' 'PrivateTmp=yes' \
	'RestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6 AF_PACKET' 'LockPersonality=yes' \
	'MemoryDenyWriteExecute=yes' 'SystemCallArchitectures=native' 'RuntimeDirectory=sluice'; do
	grep -qxF -- "$want" "$unit" || bad "$unit: no line '$want'"
done
grep -q 'CAP_SYS_ADMIN' <(grep '^[A-Za-z]' "$unit") && bad "$unit grants CAP_SYS_ADMIN"
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/unit"
	sed "s|/usr/local/sbin/sluiced|$PWD/build/sluiced|g" "$unit" >"$tmp/unit/sluiced.service"
	if [ -x build/sluiced ]; then
		out=$(systemd-analyze verify --man=no "$tmp/unit/sluiced.service" 2>&1) ||
			bad "systemd-analyze verify: $out"
		[ -z "$out" ] || bad "systemd-analyze verify says: $out"
	fi
	score=$(systemd-analyze security --offline=yes "$tmp/unit/sluiced.service" 2>/dev/null | tail -n 1)
	echo "  systemd-analyze security: ${score:-n/a}"
else
	skipped+=("systemd-analyze (Debian package systemd)")
fi

echo "Grafana dashboard"
dash=packaging/grafana-sluice.json
if ! command -v jq >/dev/null; then
	skipped+=("dashboard (jq)")
elif ! jq -e . "$dash" >/dev/null; then
	bad "$dash is not JSON"
else
	jq -e '.title == "sluice" and (.uid | length > 0) and .schemaVersion >= 30 and
		(.templating.list | map(.name)) == ["datasource", "instance", "service"]' "$dash" >/dev/null ||
		bad "dashboard: title, uid, schemaVersion or variables"
	jq -e '[.panels[].id] | length == (unique | length)' "$dash" >/dev/null || bad "dashboard: panel ids not unique"
	jq -e 'all(.panels[]; .gridPos.w > 0 and .gridPos.h > 0 and (.type == "row" or (.targets | length > 0)))' \
		"$dash" >/dev/null || bad "dashboard: a panel without size or queries"
	# panel TYPE, a title matching RE, a query matching RE
	want_panel() {
		jq -e --arg t "$1" --arg title "$2" --arg expr "$3" 'any(.panels[]; .type == $t and (.title | test($title)) and
			any(.targets[]; .expr | test($expr)))' "$dash" >/dev/null || bad "dashboard: no $1 panel '$2' with a query on $3"
	}
	want_panel timeseries '^Packets/s by service' 'rate\(sluice_service_packets_total'
	want_panel timeseries '^New flows/s by service' 'rate\(sluice_service_new_flows_total'
	want_panel timeseries '^Active connections by service' 'sluice_service_active_connections'
	want_panel table '^Backends' 'sluice_backend_breaker_state'
	want_panel table '^Backends' 'sluice_backend_health_state'
	want_panel timeseries '^Drops/s by reason' 'sluice_packets_by_reason_total\{[^}]*verdict="drop"'
	want_panel heatmap '^Handshake time' 'sluice_backend_handshake_seconds_bucket'
	want_panel stat '^Services in panic' 'sluice_service_panic'
	jq -e 'any(.panels[]; .type == "heatmap" and (.targets[0].format == "heatmap"))' "$dash" >/dev/null ||
		bad "dashboard: the heatmap's query is not in heatmap format"
	jq -r '.. | .expr? // empty' "$dash" >"$tmp/exprs"
	known_metrics "$tmp/exprs" "the dashboard"
	echo "  $(jq '[.panels[] | select(.type != "row")] | length' "$dash") panels, $(grep -c . "$tmp/exprs") queries"
fi

echo "Prometheus alert rules"
rules=packaging/sluice-alerts.yml
known_metrics "$rules" "the alert rules"
for a in SluiceBreakerOpen SluiceServicePanic SluiceDropsRising SluiceHealthCheckFailing; do
	grep -q "alert: $a\$" "$rules" || bad "no alert $a"
done
if command -v promtool >/dev/null; then
	promtool check rules "$rules" || bad "promtool check rules $rules"
	promtool test rules tests/packaging/sluice-alerts.test.yml || bad "promtool test rules"
else
	skipped+=("promtool (Debian package prometheus)")
fi

echo "operations guide: every drop reason, with its verdict"
while read -r name verdict; do
	grep -qF "| \`$name\` | $verdict |" docs/operations.md || bad "docs/operations.md: no row for reason $name ($verdict)"
done < <(sed -n 's/^[[:space:]]*X([A-Z0-9_]*, *\(PASS\|DROP\), *"\([a-z0-9_]*\)".*/\2 \1/p' include/sluice/reasons.h |
	awk '{ print $1, tolower($2) }')
[ "$(grep -c '^| `[a-z0-9_]*` | \(drop\|pass\) |' docs/operations.md)" = \
	"$(grep -c '^[[:space:]]*X([A-Z0-9_]*, *\(PASS\|DROP\)' include/sluice/reasons.h)" ] ||
	bad "docs/operations.md: the reasons table and include/sluice/reasons.h differ in length"
known_metrics docs/operations.md "docs/operations.md"

((fail)) && exit 1
if ((${#skipped[@]})); then
	printf 'SKIP: %s\n' "${skipped[@]}"
	exit 77
fi
echo "PASS: example config, systemd unit, Grafana dashboard, alert rules"

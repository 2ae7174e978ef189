# shellcheck shell=bash
# Sourced by e2e tests: dump every map derived from the config, so two
# dumps can be compared byte for byte (cmp).
#
#   sl_dump_config_maps PIN_ROOT OUTFILE
#
# sl_svc, sl_backend, sl_rev, sl_addrs, sl_addr_filter, sl_tx as bpftool
# prints them; sl_maglev as its outer entries (inner map ids: a table
# replaced by an identical one still shows) followed by every inner table's
# content. Hash maps are sorted, so the dump does not depend on bucket order.
sl_dump_config_maps() {
	local root=$1 out=$2 m ids id
	: >"$out" || return 1
	for m in sl_svc sl_rev sl_addrs; do
		echo "==== $m" >>"$out"
		bpftool -j map dump pinned "$root/$m" |
			python3 -c 'import json,sys; [print(json.dumps(e, sort_keys=True)) for e in sorted(json.load(sys.stdin), key=lambda e: json.dumps(e, sort_keys=True))]' \
			>>"$out" || return 1
	done
	for m in sl_backend sl_addr_filter sl_tx; do
		echo "==== $m" >>"$out"
		bpftool map dump pinned "$root/$m" >>"$out" || return 1
	done
	echo "==== sl_maglev" >>"$out"
	bpftool -j map dump pinned "$root/sl_maglev" >"$out.mg" || return 1
	ids=$(python3 -c 'import json,sys
for e in json.load(open(sys.argv[1])):
    v = e.get("inner_map_id", e.get("value"))
    if isinstance(v, list): v = int.from_bytes(bytes(int(b, 16) for b in v), "little")
    if isinstance(v, int): print(v)' "$out.mg") || return 1
	cat "$out.mg" >>"$out"
	rm -f "$out.mg"
	for id in $ids; do
		echo "==== sl_maglev inner $id" >>"$out"
		bpftool map dump id "$id" >>"$out" || return 1
	done
}

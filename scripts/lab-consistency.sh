#!/usr/bin/env bash
# lab-consistency.sh: are trident lab's verdicts and claims stable?
#
# Runs N full and M quick `trident lab --json` runs in a row (optionally the
# same again with two busy loops beside them) and prints one table: a row per
# workload verdict (Go and CPython) and per claim, a column per run. The
# first full run is the reference column; a cell is marked "!!" when its
# outcome is the OPPOSITE of the reference's (agrees vs disagrees, yes vs
# no), or, where the reference is UNCLEAR, of a decided outcome in any other
# run of that row. UNCLEAR claim cells show what the figures leaned to
# (e.g. "unclear(yes)"); leanings are not counted as outcomes.
#
# Usage: scripts/lab-consistency.sh [-n FULL] [-m QUICK] [-l] [-a ARGS] [-b TRIDENT] [-o DIR]
#   -n FULL     full runs (default 5)
#   -m QUICK    quick runs (default 5)
#   -l          also run the same with two busy loops on the side (killed after)
#   -a ARGS     extra arguments for every run (e.g. "--workload cpu-bound")
#   -b TRIDENT  the trident binary (default: go build ./cmd/trident into DIR)
#   -o DIR      where the JSON of every run goes (default: a new temp dir)
# Needs python3 (to read the JSON). Exit status 1 if any opposite outcome.
set -euo pipefail

full=5 quick=5 load=0 bin="" out="" extra=""
while getopts "n:m:la:b:o:h" o; do
	case $o in
	n) full=$OPTARG ;;
	m) quick=$OPTARG ;;
	l) load=1 ;;
	a) extra=$OPTARG ;;
	b) bin=$OPTARG ;;
	o) out=$OPTARG ;;
	*) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 2 ;;
	esac
done
case "$full$quick" in *[!0-9]*) echo "lab-consistency: -n and -m take a number" >&2; exit 2 ;; esac
if [ "$full" -lt 1 ]; then echo "lab-consistency: -n must be at least 1 (the first full run is the reference)" >&2; exit 2; fi
command -v python3 >/dev/null || { echo "lab-consistency: python3 is needed to read the JSON" >&2; exit 2; }

out=${out:-$(mktemp -d -t lab-consistency.XXXXXX)}
mkdir -p "$out"
if [ -z "$bin" ]; then
	root=$(cd "$(dirname "$0")/.." && pwd)
	echo "building trident from $root into $out/trident" >&2
	(cd "$root" && go build -o "$out/trident" ./cmd/trident)
	bin=$out/trident
fi
[ -x "$bin" ] || { echo "lab-consistency: $bin is not an executable" >&2; exit 2; }

busy=()
stop_busy() {
	for p in "${busy[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	for p in "${busy[@]:-}"; do [ -n "$p" ] && wait "$p" 2>/dev/null || true; done
	busy=()
}
trap stop_busy EXIT INT TERM

runs=()
one() { # one LABEL ARGS...
	local label=$1; shift
	local f="$out/$label.json"
	printf '%s: trident lab %s (load %s) ... ' "$label" "$*" "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo ?)" >&2
	local t0=$SECONDS
	# shellcheck disable=SC2086 # extra is split into arguments on purpose
	if "$bin" lab "$@" $extra --json="$f" >/dev/null 2>"$out/$label.stderr"; then
		echo "$((SECONDS - t0)) s" >&2
		runs+=("$f")
	else
		echo "FAILED (see $out/$label.stderr)" >&2
	fi
}
series() { # series SUFFIX
	for i in $(seq 1 "$full"); do one "full$i$1"; done
	for i in $(seq 1 "$quick"); do one "quick$i$1" --quick; done
}

series ""
if [ "$load" = 1 ]; then
	echo "starting two busy loops" >&2
	for _ in 1 2; do (while :; do :; done) & busy+=($!); done
	series "-busy"
	stop_busy
fi
[ "${#runs[@]}" -gt 0 ] || { echo "lab-consistency: no run succeeded" >&2; exit 2; }

python3 - "${runs[@]}" <<'PY'
import json, os, sys
runs = []
for f in sys.argv[1:]:
    with open(f) as fh:
        runs.append((os.path.basename(f)[:-5], json.load(fh)))
opposite = {"agrees": "disagrees", "disagrees": "agrees", "yes": "no", "no": "yes"}

def cells(r):
    c = {}
    for v in r.get("verdicts", []):
        c["verdict " + v["workload"] + " go"] = v.get("outcome", "")
        if v.get("cpython_outcome"):
            c["verdict " + v["workload"] + " cpython"] = v["cpython_outcome"]
    for cl in r.get("claims", []):
        h = cl.get("holds", "")
        if h == "unclear" and cl.get("leaning"):
            h += "(" + cl["leaning"] + ")"
        c["claim " + cl["id"]] = h
    return c

table = [(name, cells(r)) for name, r in runs]
keys = []
for _, c in table:
    for k in c:
        if k not in keys:
            keys.append(k)
ref_name, ref = table[0]
w = max(len(k) for k in keys) + 2
cw = max(14, max(len(n) for n, _ in table) + 1)
print("reference: " + ref_name + "; '!!' marks an outcome opposite to the reference's (or, where it is unclear, to another run's decided one); unclear(x) = unclear, leaning to x")
print("".ljust(w) + "".join(n.ljust(cw) for n, _ in table))
info = ["time (s)", "load start-end", "rounds"]
for i, label in enumerate(info):
    row = label.ljust(w)
    for _, r in runs:
        if i == 0:
            s = "%.1f" % r.get("duration_s", 0)
        elif i == 1:
            la = r.get("machine", {}).get("load_avg", [0, 0])
            s = "%.1f-%.1f" % (la[0], la[1])
        else:
            s = str(r.get("rounds", ""))
        row += s.ljust(cw)
    print(row)
flips = 0
for k in keys:
    row = k.ljust(w)
    base = ref.get(k, "")
    decided = {c.get(k, "") for _, c in table} & set(opposite)
    for _, c in table:
        v = c.get(k, "-")
        if base in opposite:
            bad = opposite[base] == v
        else:
            bad = v in opposite and opposite[v] in decided
        if bad:
            v += " !!"
            flips += 1
        row += v.ljust(cw)
    print(row)
print()
print("%d run(s), %d opposite outcome(s)" % (len(table), flips))
sys.exit(1 if flips else 0)
PY

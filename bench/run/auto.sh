#!/bin/sh
# auto.sh [TRIDENT] [ROUNDS]: -j auto against a sweep of fixed -j on three
# workloads, interleaved rounds, median wall time per setting:
#   cpu:  40 x gzip -9 of 4 MB of generated data
#   fast: 400 x curl of a small file from a local HTTP server (python3)
#   slow: 500 x sleep 0.5
# Throughput of auto relative to the best fixed -j = best_ms / auto_ms.
set -eu
T=${1:-trident}; R=${2:-3}
here=$(dirname "$0")
d=$(mktemp -d); trap 'kill $srv 2>/dev/null || true; rm -rf "$d"' EXIT
head -c 4000000 /dev/urandom | od -An -tx1 | head -c 4000000 > "$d/data"
seq 40 > "$d/in40"; seq 400 > "$d/in400"; seq 500 > "$d/in500"
head -c 2000 /dev/urandom > "$d/small"
port=$((20000 + $$ % 20000))
(cd "$d" && exec python3 -m http.server "$port" --bind 127.0.0.1 >/dev/null 2>&1) & srv=$!
sleep 1
run() { # name, job, input, fixed -j list
  name=$1; job=$2; in=$3; shift 3
  echo "== $name: $(wc -l < "$in") x '$job'"
  set -- "$T run -j auto '$job' :::: $in" $(for j in "$@"; do printf '%s\n' "X$j"; done)
  cmds=""
  first=$1; shift
  for j in "$@"; do
    n=${j#X}
    cmds="$cmds
$T run -j $n '$job' :::: $in"
  done
  printf '%s%s\n' "$first" "$cmds" > "$d/cmds"
  # shellcheck disable=SC2046
  IFS='
'
  "$here/interleave.sh" "$R" $(cat "$d/cmds") | tee "$d/out"
  unset IFS
  awk 'NR==1{a=$1} NR>1 && (b==""||$1<b){b=$1} END{printf "auto throughput / best fixed = %.2f\n\n", b/a}' "$d/out"
}
run cpu "gzip -9 < $d/data > /dev/null; : {}" "$d/in40" 1 2 3 4 8
run fast "curl -s -o /dev/null http://127.0.0.1:$port/small; : {}" "$d/in400" 2 4 8 16 32
run slow "sleep 0.5; : {}" "$d/in500" 2 16 64 128 256 500

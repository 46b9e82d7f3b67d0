#!/bin/sh
# interleave.sh ROUNDS CMD1 CMD2 ...: runs each command once per round, in
# turn, so all see the same machine noise; prints the median wall time (ms)
# of each and its ratio to the first command. Commands are run with sh -c.
set -eu
rounds=$1; shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
r=0
while [ "$r" -lt "$rounds" ]; do
  i=0
  for c in "$@"; do
    t0=$(date +%s%N); sh -c "$c" >/dev/null 2>&1 || true; t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000000 )) >> "$tmp/$i"
    i=$((i + 1))
  done
  r=$((r + 1))
done
i=0; first=
for c in "$@"; do
  med=$(sort -n "$tmp/$i" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  [ -z "$first" ] && first=$med
  printf '%8s ms  x%-6s  %s\n' "$med" "$(awk -v a="$med" -v b="$first" 'BEGIN{printf "%.2f", a/b}')" "$c"
  i=$((i + 1))
done

#!/bin/sh
# trivial.sh [TRIDENT] [ROUNDS]: 1000 `true` jobs at -j2: trident run vs
# xargs -P2 -n1 vs GNU parallel, side by side (interleaved rounds), then the
# same with hyperfine when it is installed.
set -eu
T=${1:-trident}; R=${2:-7}
here=$(dirname "$0")
seq 1000 > /tmp/trident-bench-in1000
echo "== 1000 x true, -j2, $R interleaved rounds (median; ratio to trident); load: $(cut -d" " -f1-3 /proc/loadavg)"
if command -v parallel >/dev/null; then
  "$here/interleave.sh" "$R" "$T run -j2 true :::: /tmp/trident-bench-in1000" \
    "xargs -P2 -n1 -a /tmp/trident-bench-in1000 true" "parallel -j2 true :::: /tmp/trident-bench-in1000"
else
  "$here/interleave.sh" "$R" "$T run -j2 true :::: /tmp/trident-bench-in1000" \
    "xargs -P2 -n1 -a /tmp/trident-bench-in1000 true"
fi
if command -v hyperfine >/dev/null; then
  hyperfine -N -w 1 -r "$R" "$T run -j2 true :::: /tmp/trident-bench-in1000" \
    "xargs -P2 -n1 -a /tmp/trident-bench-in1000 true"
fi

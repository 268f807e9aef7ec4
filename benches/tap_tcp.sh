#!/usr/bin/env bash
# TCP throughput through two wyvern TAP ports, with and without the TAPs' virtio-net header
# offloads (checksum + TCP segmentation: `options = { offload = true|false }`).
#
#   ns A: iperf3 client on TAP T0 -- wyvern run (NORMAL switching) -- TAP T1: iperf3 server in ns B
#
# wyvern runs with one busy-polling worker pinned to CPU $FWD_CPU; both iperf3 ends are pinned
# to CPU $GEN_CPU. Each repetition measures "off" then "on" (interleaved), DURATION seconds of
# `iperf3 -c` each; the receiver's Gbit/s and wyvern's CPU seconds are printed, then medians.
#
# Usage (root): [REPS=3] [DURATION=10] [NICE=-20] benches/tap_tcp.sh [LOG]
# Everything it makes is named wytt<PID>*, and is removed on exit, failure or Ctrl-C; it stops
# only the processes it started, by pid. Like benches/forward.sh it runs in a session of its
# own at autogroup nice $NICE (benches/common/netns.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common/netns.sh
bench_session "$@"

REPS=${REPS:-3}
DURATION=${DURATION:-10}
FWD_CPU=${FWD_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
log=${1:-${CARGO_TARGET_DIR:-target}/bench-tap-tcp.log}
target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p wyvern-cli --bin wyvern
wyvern=$(realpath "$target/release/wyvern")

p=wytt$$
ns_a=${p}a ns_b=${p}b ns_sw=${p}s t0=${p}t0 t1=${p}t1
bench_setup "$p" "$ns_a" "$ns_b" "$ns_sw"

# One measurement with offloads $1 (true|false): prints "offload=$1 GBIT_S WYVERN_CPU_S".
measure() {
    cat >"$dir/wyvern.toml" <<EOF
[[port]]
name = "$t0"
type = "tap"
ofport = 1
options = { offload = $1 }

[[port]]
name = "$t1"
type = "tap"
ofport = 2
options = { offload = $1 }
EOF
    ip netns exec "$ns_sw" taskset -c "$FWD_CPU" "$wyvern" run --config "$dir/wyvern.toml" \
        --bridge "${p}br" --run-dir "$dir" --workers 1 --busy-poll >>"$dir/wyvern.log" 2>&1 &
    local fwd=$!
    pids+=("$fwd")
    for _ in $(seq 100); do
        [[ -S $dir/${p}br.mgmt ]] && break
        sleep 0.1
    done
    echo "priority=0 actions=NORMAL" | "$wyvern" add-flows "unix:$dir/${p}br.mgmt" - >/dev/null
    ip -n "$ns_sw" link set "$t0" netns "$ns_a"
    ip -n "$ns_sw" link set "$t1" netns "$ns_b"
    ip -n "$ns_a" addr add 10.77.0.1/24 dev "$t0"
    ip -n "$ns_b" addr add 10.77.0.2/24 dev "$t1"
    ip -n "$ns_a" link set "$t0" up
    ip -n "$ns_b" link set "$t1" up
    ip netns exec "$ns_b" taskset -c "$GEN_CPU" iperf3 -s -1 -p 5201 >/dev/null 2>&1 &
    local server=$!
    pids+=("$server")
    sleep 1
    local c0 c1 gbit
    c0=$(awk '{print $14 + $15}' "/proc/$fwd/stat")
    gbit=$(ip netns exec "$ns_a" taskset -c "$GEN_CPU" iperf3 -c 10.77.0.2 -p 5201 \
        -t "$DURATION" -f g | awk '/receiver/ {print $(NF-2)}')
    c1=$(awk '{print $14 + $15}' "/proc/$fwd/stat")
    wait "$server" || true
    kill "$fwd"
    wait "$fwd" || true
    echo "offload=$1 $gbit $(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", c / hz}')"
}

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(nproc) CPUs, wyvern on CPU $FWD_CPU," \
    "iperf3 on CPU $GEN_CPU, ${DURATION}s x $REPS, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
echo "# offload receiver_gbit_s wyvern_cpu_s" | tee -a "$log"
for _ in $(seq "$REPS"); do
    for offload in false true; do
        measure "$offload" >"$dir/one.txt"
        tee -a "$log" <"$dir/one.txt" >>"$dir/results.txt"
        cat "$dir/one.txt"
    done
done
echo "# medians of $REPS runs: offload Gbit/s" | tee -a "$log"
for offload in false true; do
    awk -v o="offload=$offload" '$1 == o {print $2}' "$dir/results.txt" | sort -n |
        awk -v o="$offload" '{v[NR] = $1} END {printf "offload=%s %.2f\n", o, v[int((NR + 1) / 2)]}'
done | tee -a "$log"

#!/usr/bin/env bash
# Packet generator benchmark: 64-byte UDP/IPv4 frames into a veth from one core, wyvern's
# generator against the kernel's AF_PACKET generator (netsniff-ng's trafgen) in the same run.
#
#   gen ns: G0 ==veth== K0 : sink ns
#
# The sink (`wyvern pktgen --rx`, an XDP program on K0 that counts and drops) counts what
# arrives. Each generator runs pinned to CPU $GEN_CPU for DURATION seconds; rate = frames
# counted at the sink / DURATION. veth runs the sink's XDP program in the sender's softirq, on
# the same CPU: "from one core" includes the receive, as it would for any generator here.
# Per CPU = frames counted / the generator's user + system time (getrusage of the command):
# what one core would do if the generator had it to itself (the machine is shared).
#
# Peers (PEERS, default all, in this order each repetition; REPS repetitions, interleaved):
#   trafgen        netsniff-ng's trafgen, one process (AF_PACKET with its TX ring, qdisc
#                  bypass): the kernel's fastest generator without the pktgen module
#   wyvern-afxdp   wyvern pktgen --mode afxdp (AF_XDP, copy mode on veth)
#   wyvern-live    wyvern pktgen --mode live (XDP live frames: BPF_PROG_RUN with
#                  BPF_F_TEST_XDP_LIVE_FRAMES, kernel >= 5.18)
#
# Usage (root): [PEERS="..."] [REPS=3] [DURATION=10] [NICE=-20] benches/pktgen.sh [LOG]
# Needs a release build of `wyvern` (the script builds it) and trafgen (netsniff-ng, installed
# by scripts/install-deps). Everything it makes is named wypg<PID>*, and is removed on exit,
# failure or Ctrl-C; it stops only the processes it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common/netns.sh

bench_session "$@"

PEERS=${PEERS:-"trafgen wyvern-afxdp wyvern-live"}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
GEN_CPU=${GEN_CPU:-1}
log=${1:-${CARGO_TARGET_DIR:-target}/bench-pktgen.log}

target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p wyvern-cli --bin wyvern
wyvern=$(realpath "$target/release/wyvern")
command -v trafgen >/dev/null || { echo "$0: trafgen missing (scripts/install-deps)" >&2; exit 1; }

p=wypg$$
ns_gen=${p}g ns_sink=${p}k g0=${p}g0 k0=${p}k0
mac_k0=02:00:00:00:00:02
bench_setup "$p" "$ns_gen" "$ns_sink"
ip link add "$g0" netns "$ns_gen" type veth peer name "$k0" netns "$ns_sink"
ip -n "$ns_sink" link set "$k0" address "$mac_k0" up
ip -n "$ns_gen" link set "$g0" up

# The same frame for every peer: what `wyvern pktgen` sends by default, 64 bytes.
cat >"$dir/udp64.cfg" <<EOF
{ eth(da=$mac_k0, type=0x0800), ipv4(saddr=198.18.0.1, daddr=198.18.0.2, ttl=64),
  udp(sp=1024, dp=9), fill(0x00, 22) }
EOF

# cpu_time CMD...: runs CMD; prints its (and its children's) user + system seconds.
cpu_time() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' "$@"
}

# run PEER: one measurement; prints "PEER Mpps Mpps_per_cpu".
run() {
    local peer=$1 rx=$dir/rx.json cpu
    "$wyvern" pktgen --rx --netns "$ns_sink" --dev "$k0" --duration $((DURATION + 3)) \
        --json >"$rx" 2>/dev/null &
    local sink=$!
    pids+=("$sink")
    sleep 1
    case $peer in
    trafgen)
        cpu=$(cpu_time ip netns exec "$ns_gen" timeout -s INT "$DURATION" \
            taskset -c "$GEN_CPU" trafgen --dev "$g0" --conf "$dir/udp64.cfg" -P 1 -q) ;;
    wyvern-afxdp | wyvern-live)
        cpu=$(cpu_time taskset -c "$GEN_CPU" "$wyvern" pktgen --netns "$ns_gen" --dev "$g0" \
            --dst-mac "$mac_k0" --mode "${peer#wyvern-}" --duration "$DURATION") ;;
    esac
    wait "$sink" || true
    python3 -c 'import json,sys
n = json.load(open(sys.argv[1]))["packets"]
print(sys.argv[2], "%.3f %.3f" % (n / float(sys.argv[3]) / 1e6, n / float(sys.argv[4]) / 1e6))' \
        "$rx" "$peer" "$DURATION" "$cpu"
    sleep 2
}

echo "# benches/pktgen.sh $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$log"
for rep in $(seq 1 "$REPS"); do
    for peer in $PEERS; do
        run "$peer" | tee -a "$log"
    done
done
echo "# medians of $REPS runs: peer Mpps ratio_to_trafgen Mpps_per_cpu ratio_to_trafgen" | tee -a "$log"
grep -v '^#' "$log" | sort -k1,1 -s | awk '
    function median(a, n,   i, j, t) {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function close_peer() { if (peer != "") { m[peer] = median(v, n); c[peer] = median(w, n) } }
    $1 != peer { close_peer(); peer = $1; n = 0 }
    { n++; v[n] = $2; w[n] = $3 }
    END {
        close_peer()
        for (q in m) printf "%s %.3f %s %.3f %s\n", q, m[q], ratio(m, q), c[q], ratio(c, q)
    }
    function ratio(x, q) { return ("trafgen" in x) ? sprintf("%.1fx", x[q] / x["trafgen"]) : "-" }
    ' | sort | tee -a "$log"

#!/usr/bin/env bash
# Forwarding benchmark: one routed UDP/IPv4 flow of 64-byte frames, from a generator namespace
# through a forwarder to a sink namespace, against Linux, Open vSwitch and a bare AF_XDP
# forwarder in the same run.
#
#   gen ns: G0 ==veth== G1 : forwarder (switch ns) : K1 ==veth== K0 : sink ns
#
# The flow (the same for every switch; OVS gets what wyvern dumps after loading it):
#   in_port=1, ip, nw_dst=10.10.2.2 -> dec_ttl, eth_src := K1, eth_dst := K0, output:2
# The generator (`wyvern pktgen`, XDP live frames, pinned to CPU $GEN_CPU) sends to G1's MAC
# for DURATION seconds; the sink (`wyvern pktgen --rx`, an XDP program on K0) counts what
# arrives. The forwarder is pinned to CPU $FWD_CPU (taskset; OVS's PMD via pmd-cpu-mask).
# Rate = frames counted at the sink / generator's send time. CPU per frame = the forwarder
# process's user + system time (/proc/PID/stat) while the generator ran / frames counted
# (this VM has no hardware cycle counters, so `perf stat -e cycles` is not an option). A
# busy-polling forwarder uses its whole CPU whatever the rate, so for those this is
# 1 / rate; it includes the kernel work done in the forwarder's context (AF_XDP or socket
# transmit, and the sink's receive, which veth runs on the sending CPU). The receive side of
# G1 (veth NAPI, the XDP redirect and copy into an AF_XDP UMEM) runs on the generator's CPU.
# User per frame = the user part alone: the forwarder's own code, which the kernel's share
# (the same for every AF_XDP forwarder) does not blur.
# Each forwarder gets 5 s to set up before the generator starts, and SETTLE seconds (5) after
# it stops before the next one starts.
#
# Peers (PEERS, default all, in this order each repetition; REPS repetitions, interleaved):
#   kernel            Linux IPv4 forwarding in the switch namespace (static neighbour; GRO on
#                     G1 so that veth takes the generator's XDP frames; RPS to $FWD_CPU)
#   bare              datapath/examples/afxdp_fwd: AF_XDP in, MACs rewritten, AF_XDP out
#                     (shared UMEM, busy polling, native XDP) -- no parsing, no flow table
#   wyvern-afxdp      wyvern run, afxdp ports (native XDP), --workers 1 --busy-poll
#   wyvern-afxdp-2w   the same with --workers 2, without --busy-poll (pinned to both CPUs,
#                     shared with the generator, so they sleep when idle); the ports are on
#                     different workers, so every frame crosses from one to the other
#   ovs-afxdp         ovs-vswitchd (netdev datapath), type=afxdp ports, xdp-mode=native,
#                     one PMD thread
#   ovs-system        ovs-vswitchd, type=system ports (AF_PACKET sockets, main thread)
#   wyvern-tap        wyvern run, tap ports (TAP devices in the switch namespace; generator
#                     and sink on the TAP devices), --workers 1 --busy-poll
#   ovs-tap           ovs-vswitchd, type=tap ports, same TAP topology
#
#   alt-wyvern-*      any wyvern peer above, run with the binary $ALT_WYVERN instead of this
#                     tree's build: two builds side by side in one run (A/B), e.g.
#                     PEERS="bare wyvern-afxdp alt-wyvern-afxdp" ALT_WYVERN=/tmp/wyvern.old
#
# Usage (root): [PEERS="..."] [REPS=3] [DURATION=10] [SETTLE=5] [NICE=-20] [KEEP=1]
#               [ALT_WYVERN=PATH] [PERF="perf record options"] benches/forward.sh [LOG]
# (KEEP=1 keeps the run's files -- configs, flows, daemon logs -- in LOG.d. PERF, e.g. "-g",
# records the forwarder process with `perf record $PERF` while the generator sends (from 2 s
# in to 1 s before the end), into LOG.d/perf-PEER-REP.data: set KEEP too.)
# Needs release builds of `wyvern` and the `afxdp_fwd` example (the script builds them) and
# Open vSwitch (ovsdb-server, ovs-vswitchd, ovs-vsctl, ovs-ofctl). Everything it makes is
# named wyfw<PID>*, and is removed on exit, failure or Ctrl-C; it stops only the processes it
# started, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/common/netns.sh

# The machine is shared: the script runs in a session of its own at autogroup nice $NICE
# (benches/common/netns.sh). Every process it measures stays in that session (ovs-vswitchd
# is not daemonized for that reason).
bench_session "$@"

PEERS=${PEERS:-"kernel bare wyvern-afxdp wyvern-afxdp-2w ovs-afxdp ovs-system wyvern-tap ovs-tap"}
REPS=${REPS:-3}
DURATION=${DURATION:-10}
SETTLE=${SETTLE:-5}
FWD_CPU=${FWD_CPU:-0}
GEN_CPU=${GEN_CPU:-1}
log=${1:-${CARGO_TARGET_DIR:-target}/bench-forward.log}

target=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p wyvern-cli --bin wyvern
cargo build --release -q -p wyvern-datapath --example afxdp_fwd
wyvern=$(realpath "$target/release/wyvern")
# The binary the wyvern peers run (the alt-* peers switch it to $ALT_WYVERN); the generator,
# the sink and the flow loading always use this tree's build.
wyvern_fwd=$wyvern
bare=$(realpath "$target/release/examples/afxdp_fwd")

p=wyfw$$
ns_gen=${p}g ns_sw=${p}s ns_sink=${p}k
g0=${p}g0 g1=${p}g1 k0=${p}k0 k1=${p}k1 t0=${p}t0 t1=${p}t1
mac_g0=02:00:00:00:01:02 mac_g1=02:00:00:00:01:01
mac_k1=02:00:00:00:02:01 mac_k0=02:00:00:00:02:02
src_ip=10.10.1.2 dst_ip=10.10.2.2
bench_setup "$p" "$ns_gen" "$ns_sw" "$ns_sink"

in_sw() { ip netns exec "$ns_sw" "$@"; }

# --- topology -------------------------------------------------------------------------------
for ns in "$ns_gen" "$ns_sw" "$ns_sink"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add "$g0" netns "$ns_gen" address "$mac_g0" type veth peer name "$g1" netns "$ns_sw" address "$mac_g1"
ip link add "$k0" netns "$ns_sink" address "$mac_k0" type veth peer name "$k1" netns "$ns_sw" address "$mac_k1"
ip -n "$ns_gen" link set "$g0" up
ip -n "$ns_sink" link set "$k0" up
ip -n "$ns_sw" link set "$g1" up
ip -n "$ns_sw" link set "$k1" up

cat >"$dir/flows.txt" <<EOF
priority=100,ip,in_port=1,nw_dst=$dst_ip actions=dec_ttl,set_field:$mac_k1->eth_src,set_field:$mac_k0->eth_dst,output:2
EOF

# --- the forwarders: each "start_X" leaves the forwarder's pid in $fwd_pid ------------------
fwd_pid=

# $1 = port type (afxdp|tap), $2 = workers.
start_wyvern() {
    local type=$1 workers=$2 cpus=$FWD_CPU a b
    [[ $workers -gt 1 ]] && cpus=$FWD_CPU,$GEN_CPU
    if [[ $type == afxdp ]]; then a=$g1 b=$k1; else a=$t0 b=$t1; fi
    cat >"$dir/wyvern.toml" <<EOF
[[port]]
name = "$a"
type = "$type"
interface = "$a"
ofport = 1
$([[ $type == afxdp ]] && echo 'options = { mode = "native" }')

[[port]]
name = "$b"
type = "$type"
interface = "$b"
ofport = 2
$([[ $type == afxdp ]] && echo 'options = { mode = "native" }')
EOF
    # Two busy-polling workers would take the generator's CPU from it: they sleep when idle.
    local busy=(--busy-poll)
    [[ $workers -gt 1 ]] && busy=()
    ip netns exec "$ns_sw" taskset -c "$cpus" "$wyvern_fwd" run --config "$dir/wyvern.toml" --bridge "${p}br" \
        --run-dir "$dir" --workers "$workers" "${busy[@]}" >"$dir/wyvern.log" 2>&1 &
    fwd_pid=$!
    pids+=("$fwd_pid")
    for _ in $(seq 100); do
        [[ -S $dir/${p}br.mgmt ]] && break
        sleep 0.1
    done
    "$wyvern" add-flows "unix:$dir/${p}br.mgmt" "$dir/flows.txt"
    if [[ $type == tap ]]; then
        ip -n "$ns_sw" link set "$t0" up
        ip -n "$ns_sw" link set "$t1" up
    fi
}

# It stops by itself (a signal would leave its XDP programs attached) once the generator is done.
start_bare() {
    ip netns exec "$ns_sw" taskset -c "$FWD_CPU" "$bare" "$g1" "$k1" "$mac_k0" "$mac_k1" \
        $((DURATION + 7)) native >"$dir/bare.log" 2>&1 &
    fwd_pid=$!
    pids+=("$fwd_pid")
}

stop_bare() {
    wait "$fwd_pid" || true
}

# Forwarders that attach no XDP program to G1 need its NAPI on, or the generator's XDP frames
# (veth ndo_xdp_xmit) are dropped: GRO on turns it on (UDP is not coalesced when forwarding).
napi_on() { in_sw ethtool -K "$g1" gro "$1"; }

start_kernel() {
    napi_on on
    in_sw sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
    ip -n "$ns_sw" addr add 10.10.1.1/24 dev "$g1"
    ip -n "$ns_sw" addr add 10.10.2.1/24 dev "$k1"
    ip -n "$ns_sw" neigh replace "$dst_ip" lladdr "$mac_k0" dev "$k1" nud permanent
    # Receive processing (and so the forwarding) of G1 on the forwarder's CPU.
    in_sw sh -c "echo $((1 << FWD_CPU)) > /sys/class/net/$g1/queues/rx-0/rps_cpus"
    fwd_pid=
}

stop_kernel() {
    napi_on off
    ip -n "$ns_sw" addr flush dev "$g1"
    ip -n "$ns_sw" addr flush dev "$k1"
    in_sw sysctl -qw net.ipv4.ip_forward=0
    in_sw sh -c "echo 0 > /sys/class/net/$g1/queues/rx-0/rps_cpus"
}

ovsdb_started=
start_ovsdb() {
    [[ -n $ovsdb_started ]] && return
    export OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir OVS_SYSCONFDIR=$dir
    ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --detach \
        --pidfile="$dir/ovsdb-server.pid" --log-file="$dir/ovsdb-server.log"
    ovs-vsctl --db="unix:$dir/db.sock" --no-wait init
    ovs-vsctl --db="unix:$dir/db.sock" --no-wait set Open_vSwitch . \
        other_config:pmd-cpu-mask=$((1 << FWD_CPU))
    ovsdb_started=1
}

# $1 = interface type (afxdp|system|tap).
start_ovs() {
    local type=$1 a=$g1 b=$k1 opts=()
    start_ovsdb
    local vsctl=(ovs-vsctl --db="unix:$dir/db.sock" --timeout=30)
    ip netns exec "$ns_sw" taskset -c "$FWD_CPU" ovs-vswitchd "unix:$dir/db.sock" \
        --pidfile="$dir/ovs-vswitchd.pid" --log-file="$dir/ovs-vswitchd.log" -vconsole:off \
        >>"$dir/setup.log" 2>&1 &
    fwd_pid=$!
    pids+=("$fwd_pid")
    [[ $type == tap ]] && a=$t0 b=$t1
    [[ $type == afxdp ]] && opts=(options:xdp-mode=native options:n_rxq=1)
    [[ $type == system ]] && napi_on on
    "${vsctl[@]}" add-br br0 -- set bridge br0 datapath_type=netdev protocols=OpenFlow13 \
        -- add-port br0 "$a" -- set interface "$a" type="$type" ofport_request=1 "${opts[@]}" \
        -- add-port br0 "$b" -- set interface "$b" type="$type" ofport_request=2 "${opts[@]}"
    if [[ $type == tap ]]; then
        ip -n "$ns_sw" link set "$t0" up
        ip -n "$ns_sw" link set "$t1" up
    fi
    # The flows wyvern holds, as it dumps them.
    ovs-ofctl -O OpenFlow13 del-flows br0
    ovs-ofctl -O OpenFlow13 add-flows br0 "$dir/flows-dumped.txt"
}

stop_ovs() {
    ovs-vsctl --db="unix:$dir/db.sock" --timeout=30 del-br br0
    stop_process
    napi_on off
}

# A forwarder must leave no XDP program behind; say so (and remove it) if one did.
check_no_xdp() {
    local dev
    for dev in "$g1" "$k1"; do
        if ip -n "$ns_sw" link show "$dev" | grep -q "prog/xdp"; then
            echo "warning: $1 left an XDP program on $dev; detaching it" >&2
            ip -n "$ns_sw" link set dev "$dev" xdp off
        fi
    done
}

stop_process() {
    [[ -z $fwd_pid ]] && return
    kill "$fwd_pid" 2>/dev/null || true
    wait "$fwd_pid" 2>/dev/null || true
}

# What wyvern dumps of the flows, for OVS: load them once into a wyvern with tap ports.
start_wyvern tap 1 >>"$dir/setup.log" 2>&1
"$wyvern" dump-flows --no-stats "unix:$dir/${p}br.mgmt" | sed 's/^ *//' >"$dir/flows-dumped.txt"
stop_process
echo "flows (as wyvern dumps them): $(cat "$dir/flows-dumped.txt")" | tee "$log"

cpu_ticks() { # "USER SYSTEM" clock ticks of process $1 ("0 0" when there is none)
    [[ -n $1 ]] && awk '{print $14, $15}' "/proc/$1/stat" || echo 0 0
}

# --- one measurement: prints "PEER PPS CPU_NS_PER_FRAME USER_NS_PER_FRAME OFFERED_PPS" -------
measure() {
    local peer=$1 rep=$2 dev_gen=$g0 dev_sink=$k0 ns_g=$ns_gen ns_k=$ns_sink kind=$1
    case $peer in
        *tap) dev_gen=$t0 dev_sink=$t1 ns_g=$ns_sw ns_k=$ns_sw ;;
    esac
    wyvern_fwd=$wyvern
    if [[ $peer == alt-wyvern-* ]]; then
        [[ -x ${ALT_WYVERN:-} ]] || { echo "peer $peer needs ALT_WYVERN=PATH" >&2; exit 2; }
        wyvern_fwd=$ALT_WYVERN kind=${peer#alt-}
    fi
    case $kind in
        kernel) start_kernel ;;
        bare) start_bare ;;
        wyvern-afxdp) start_wyvern afxdp 1 ;;
        wyvern-afxdp-2w) start_wyvern afxdp 2 ;;
        wyvern-tap) start_wyvern tap 1 ;;
        ovs-afxdp) start_ovs afxdp ;;
        ovs-system) start_ovs system ;;
        ovs-tap) start_ovs tap ;;
        *) echo "unknown peer $peer" >&2; exit 2 ;;
    esac >>"$dir/setup.log" 2>&1
    taskset -c "$GEN_CPU" "$wyvern" pktgen --rx --dev "$dev_sink" --netns "$ns_k" \
        --duration $((DURATION + 7)) --json >"$dir/sink.json" 2>>"$dir/setup.log" &
    local sink=$!
    pids+=("$sink")
    sleep 5 # ports up, XDP programs attached, sink listening
    local c0 c1 perf_pid=
    if [[ -n ${PERF:-} && -n $fwd_pid ]]; then
        # From 2 s into the send to 1 s before its end: frames only, not the idle polling
        # while the generator starts and stops.
        # shellcheck disable=SC2086 # PERF is a list of options
        (sleep 2 && exec perf record -q $PERF -p "$fwd_pid" -o "$dir/perf-$peer-$rep.data" \
            -- sleep $((DURATION - 3))) >>"$dir/setup.log" 2>&1 &
        perf_pid=$!
    fi
    c0=$(cpu_ticks "$fwd_pid")
    taskset -c "$GEN_CPU" "$wyvern" pktgen --dev "$dev_gen" --netns "$ns_g" --dst-mac "$mac_g1" \
        --src-ip "$src_ip" --dst-ip "$dst_ip" --size 64 --duration "$DURATION" --json \
        >"$dir/gen.json" 2>>"$dir/setup.log"
    c1=$(cpu_ticks "$fwd_pid")
    [[ -n $perf_pid ]] && { wait "$perf_pid" || true; }
    wait "$sink"
    cp "$dir/gen.json" "$dir/gen-$peer.json"
    cp "$dir/sink.json" "$dir/sink-$peer.json"
    case $kind in
        kernel) stop_kernel ;;
        bare) stop_bare ;;
        ovs-*) stop_ovs ;;
        *) stop_process ;;
    esac >>"$dir/setup.log" 2>&1
    check_no_xdp "$peer"
    # Let the kernel finish tearing the forwarder down (UMEM pages, a namespace) before the
    # next one is measured.
    sleep "$SETTLE"
    local secs rx offered
    secs=$(json_field duration_s "$dir/gen.json")
    offered=$(json_field pps "$dir/gen.json")
    rx=$(json_field packets "$dir/sink.json")
    awk -v peer="$peer" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" -v secs="$secs" \
        -v rx="$rx" -v offered="$offered" 'BEGIN {
        split(c0, a, " "); split(c1, b, " ")
        user = b[1] - a[1]; cpu = user + b[2] - a[2]
        cpu_ns = (cpu > 0 && rx > 0) ? sprintf("%.0f", cpu / hz * 1e9 / rx) : "n/a"
        user_ns = (cpu > 0 && rx > 0) ? sprintf("%.0f", user / hz * 1e9 / rx) : "n/a"
        printf "%s %.0f %s %s %.0f\n", peer, rx / secs, cpu_ns, user_ns, offered }'
}

json_field() { # the number after "$1": in the one-line JSON file $2
    sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p" "$2"
}

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(nproc) CPUs, forwarder on CPU $FWD_CPU," \
    "generator on CPU $GEN_CPU, ${DURATION}s x $REPS, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
echo "# peer pps cpu_ns_per_frame user_ns_per_frame offered_pps" | tee -a "$log"
for rep in $(seq "$REPS"); do
    for peer in $PEERS; do
        measure "$peer" "$rep" >"$dir/one.txt"
        tee -a "$log" <"$dir/one.txt" >>"$dir/results.txt"
        cat "$dir/one.txt"
    done
done

# Medians per peer.
echo "# medians of $REPS runs: peer Mpps cpu_ns_per_frame user_ns_per_frame offered_Mpps" | tee -a "$log"
for peer in $PEERS; do
    awk -v p="$peer" '$1 == p' "$dir/results.txt" | awk '
        { pps[NR] = $2; cpu[NR] = $3; user[NR] = $4; off[NR] = $5 }
        function median(a, n,   i, j, t) {
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
            return a[int((n + 1) / 2)]
        }
        END { printf "%s %.3f %s %s %.3f\n", $1, median(pps, NR) / 1e6, median(cpu, NR), median(user, NR), median(off, NR) / 1e6 }'
done | tee -a "$log"

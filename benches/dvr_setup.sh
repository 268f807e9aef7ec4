#!/usr/bin/env bash
# Reactive flow setup through the built-in DVR controller, in the lab, side by side with the
# architecture it replaces, in one run:
#   builtin  wyvern with its built-in reactive L3 controller (`wyvern lab up`)
#   osken    wyvern with builtin_controller = false and the os-ken L3 app
#            (cli/tests/peers/osken_l3.py) in the lab's underlay namespace
#            (`wyvern lab up --controller`): the same switch, the controller's cost isolated
#   ovs      Open vSwitch (userspace datapath: datapath_type=netdev, system ports on the same
#            kind of veths) carrying the same Dragonflow tables, with the same os-ken app: the
#            Dragonflow blog's architecture
# Each side is one node: vm1 (net1, 10.1.0.5) and vm2 (net2, 10.2.0.5) on veth pairs, router
# r1; plus net3 (10.3.0.0/16, on r1) with one port, `gen`, that owns PAIRS addresses
# 10.3.1.0, 10.3.1.1, ... (added with `wyvern topology apply`; the OVS side gets the same
# tables, dumped from the builtin side).
#
# 1. First-packet added latency. benches/dvr_probe.py, interleaving the sides: per repetition
#    and side, delete the learned flows (cookie-masked del-flows), wait 50 ms, send one UDP
#    datagram vm2 -> vm1 (packet-in, flow install, re-injection) and then 3 more (the learned
#    flow); the one-way latency of each is the receiver's kernel timestamp minus the send
#    time. Reported: the first, the cached (median of the 3) and their difference per
#    repetition, median and percentiles.
# 2. Setup rate. Per offered rate R and side: delete the learned flows, count frames arriving
#    in vm1 with an XDP counter (`wyvern pktgen --rx`), send PAIRS frames from `gen` to vm1 at
#    R frames/s, each from a new address: every frame is the first packet of a new host pair
#    (`wyvern pktgen --vary src-ip --flows PAIRS --count PAIRS --rate R --mode afxdp`: AF_XDP
#    frames reach the other end of the veth on every side, XDP live frames only where an XDP
#    program runs). When the learned flows stop growing, dump the forward ones (one per pair,
#    `in_port=14`; the reverse flow comes with it): the setup rate is pairs / (spread of their
#    install times, from the flows' durations). Pairs whose first
#    packet was dropped anywhere (packet-in queue, controller connection, socket) get no
#    flows: dropped = PAIRS - pairs installed. Also per round: received = frames the switch
#    took in on the generator's port, pin drop = packet-ins wyvern dropped on its full queue
#    (`topology show`; OVS has no such counter), delivered = first packets vm1 received.
#
# Usage: benches/dvr_setup.sh [--reps N] [--pairs N] [--rates "R ..."] [--sides "S ..."]
#        (defaults: 200, 60000, "25000 50000 100000 200000", "builtin osken ovs")
# Needs root, Open vSwitch (Debian's openvswitch-switch) and the venv with os-ken
# (scripts/install-deps). Everything it creates is named dw<pid>{b,x,o}-* and removed on exit,
# also on failure or Ctrl-C; it stops only the processes it started, by pid.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
here=$root/benches
# shellcheck source=benches/common/netns.sh
source "$here/common/netns.sh"
# shellcheck source=benches/common/switches.sh
source "$here/common/switches.sh"

# The machine is shared: the script runs in a session of its own at autogroup nice $NICE
# (benches/common/netns.sh). Every process it measures stays in that session: the switches
# `wyvern lab up` starts, the os-ken apps, ovs-vswitchd (not daemonized, see ovs_start).
bench_session "$@"

reps=200
pairs=60000
rates="25000 50000 100000 200000"
sides="builtin osken ovs"
while (($#)); do
    case $1 in
    --reps) reps=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --rates) rates=$2; shift 2 ;;
    --sides) sides=$2; shift 2 ;;
    *) echo "usage: $0 [--reps N] [--pairs N] [--rates \"R ...\"] [--sides \"builtin osken ovs\"]" >&2; exit 2 ;;
    esac
done
[[ $(id -u) == 0 ]] || { echo "$0: needs root (namespaces, AF_XDP, Open vSwitch)" >&2; exit 1; }
((pairs >= 1 && pairs <= 65000)) || { echo "$0: --pairs must be 1..65000" >&2; exit 2; }

(cd "$root" && cargo build --release -p wyvern-cli >&2)
W=${CARGO_TARGET_DIR:-$root/target}/release/wyvern
[[ $W == /* ]] || W=$root/$W
python=${WYVERN_VENV:-$HOME/.cache/wyvern/venv}/bin/python
app=$root/cli/tests/peers/osken_l3.py
if [[ $sides == *osken* || $sides == *ovs* ]] && [[ ! -x $python ]]; then
    echo "$0: $python missing (scripts/install-deps makes it)" >&2; exit 1
fi

[[ $sides == *ovs* && $sides != *builtin* ]] && sides="builtin $sides" # OVS takes its tables

tag=dw$(($$ % 100000))
declare -A prefix=([builtin]=${tag}b- [osken]=${tag}x- [ovs]=${tag}o-)
# The namespaces made here (the wyvern sides' others are their labs'), removed on exit.
made=()
for side in $sides; do
    case $side in
    builtin | osken) made+=("${prefix[$side]}gen") ;;
    ovs) made+=("${prefix[ovs]}"{node1,vm1,vm2,gen,underlay}) ;;
    esac
done
bench_setup dvr-setup "${made[@]}" # $dir, $pids; removes them on exit
ovs_dir=$dir/ovs
labs=() # lab prefixes to take down

cleanup() {
    set +e
    ovs_stop "$ovs_dir"
    for l in "${labs[@]}"; do "$W" lab down --prefix "$l" >/dev/null 2>&1; done
    bench_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }
say() { echo "== $*" >&2; }

GEN_MAC=fa:16:3e:aa:00:01
R1_NET3=fa:16:3e:c6:00:01
LEARNED_W="table=52,cookie=0xd100000000000000/0xff00000000000000"
LEARNED_O="table=52,cookie=0xd200000000000000/0xff00000000000000"

# The lab's configuration plus net3, r1's interface on it and the generator's port.
extend_config() {
    sed 's/^interfaces = \[$/&\n  { network = "net3", ip = "10.3.0.1", mac = "'$R1_NET3'" },/' "$1"
    printf '\n[[network]]\nname = "net3"\nsegmentation_id = 0x1f44\n'
    printf 'subnets = [{ cidr = "10.3.0.0/16", gateway = "10.3.0.1" }]\n'
    printf '\n[[port]]\nname = "gen"\nnetwork = "net3"\nmac = "%s"\nchassis = "node1"\n' $GEN_MAC
    printf 'type = "afxdp"\ninterface = "gen-br"\nofport = 14\nips = [' 
    awk -v n="$pairs" 'BEGIN { for (i = 0; i < n; i++) { v = 256 + i;
        printf "%s\"10.3.%d.%d\"", (i ? "," : ""), int(v / 256), v % 256 } }'
    printf ']\n'
}

# VM `name` of prefix p: eth0 in namespace p$name (MAC, address, gateway), the other end
# `$name-br` in p$node. Checksum offload is off in the VM: OVS's system ports do not complete
# the partial checksums a veth hands over (wyvern's AF_XDP ports do).
vm_veth() {
    local p=$1 name=$2 mac=$3 addr=$4 gw=$5 node=$1node1
    ip -n "$node" link add "$name-br" type veth peer name eth0 netns "$p$name"
    ip -n "$node" link set "$name-br" up
    ip -n "$p$name" link set eth0 address "$mac"
    ip netns exec "$p$name" ethtool -K eth0 tx off >/dev/null
    ip netns exec "$p$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    ip -n "$p$name" link set eth0 up
    if [[ -n $addr ]]; then
        ip -n "$p$name" addr add "$addr" dev eth0
        ip -n "$p$name" route add default via "$gw"
    fi
}

target() { echo "unix:/run/wyvern/labs/${1%-}/node1/br-int.mgmt"; }

# Starts the os-ken app in namespace $1 with configuration $2, logging to $3.
start_osken() {
    ip netns exec "$1" "$python" "$app" 6653 192.168.50.254 --config "$2" \
        --chassis node1 --quiet >"$3" 2>"$3.err" &
    pids+=($!)
}

# Waits until a switch has connected to the os-ken app logging to $1 (a switch that started
# before the app retries with a doubling backoff).
connected() {
    for _ in $(seq 600); do
        grep -q connected "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$0: no switch connected to the os-ken app:" >&2; cat "$1" "$1.err" >&2
    return 1
}

# A wyvern lab (builtin or osken) with the generator's port.
wyvern_side() {
    local side=$1 p=${prefix[$1]}
    local args=(--prefix "$p")
    [[ $side == osken ]] && args+=(--controller tcp:192.168.50.254:6653)
    labs+=("$p")
    "$W" lab up "${args[@]}" >/dev/null
    vm_veth "$p" gen $GEN_MAC "" ""
    extend_config "/run/wyvern/labs/${p%-}/lab.toml" >"$dir/$side.toml"
    "$W" topology apply "$(target "$p")" "$dir/$side.toml" >/dev/null
    if [[ $side == osken ]]; then
        start_osken "${p}underlay" "$dir/$side.toml" "$dir/osken-$side.log"
        connected "$dir/osken-$side.log"
    fi
}

# Open vSwitch in namespace ${p}node1 with the builtin side's tables and the os-ken app.
ovs_side() {
    local p=${prefix[ovs]}
    ip netns exec "${p}node1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    vm_veth "$p" vm1 fa:16:3e:00:17:e6 10.1.0.5/24 10.1.0.1
    vm_veth "$p" vm2 fa:16:3e:cf:4b:ed 10.2.0.5/24 10.2.0.1
    vm_veth "$p" gen $GEN_MAC "" ""
    # The underlay, as `wyvern lab --controller` builds it: the controller at 192.168.50.254.
    ip -n "${p}underlay" link add br0 type bridge
    ip -n "${p}underlay" addr add 192.168.50.254/24 dev br0
    ip -n "${p}underlay" link set br0 up
    ip -n "${p}underlay" link add to-node1 type veth peer name ul0 netns "${p}node1"
    ip -n "${p}underlay" link set to-node1 master br0 up
    ip -n "${p}node1" addr add 192.168.50.1/24 dev ul0
    ip -n "${p}node1" link set ul0 up

    ovs_start "$ovs_dir" "${p}node1"
    local db=$ovs_db
    ovs_bridge br-int
    ovs-vsctl --db="$db" set bridge br-int fail_mode=secure
    for port in vm1-br:11 vm2-br:12 gen-br:14; do
        ovs-vsctl --db="$db" add-port br-int "${port%:*}" -- \
            set interface "${port%:*}" ofport_request="${port#*:}"
    done
    # The controller first: OVS flushes every flow when a bridge gets its first controller.
    start_osken "${p}underlay" "$dir/builtin.toml" "$dir/osken-ovs.log"
    ovs-vsctl --db="$db" set-controller br-int tcp:192.168.50.254:6653 -- \
        set controller br-int connection-mode=out-of-band
    connected "$dir/osken-ovs.log"
    # The builtin side's tables (gen port included), without its learned flows.
    "$W" dump-flows --no-stats "$(target "${prefix[builtin]}")" | grep -v 'cookie=0xd1' \
        >"$dir/tables.flows"
    ovs-ofctl -O OpenFlow13 add-flows "unix:$ovs_dir/br-int.mgmt" "$dir/tables.flows"
}

# Side-specific commands: the OpenFlow target, the learned-flow selector, the ofctl program.
ofctl() { # side verb args...
    local side=$1; shift
    if [[ $side == ovs ]]; then
        ovs-ofctl -O OpenFlow13 "$1" "unix:$ovs_dir/br-int.mgmt" "${@:2}"
    else
        "$W" "$1" "$(target "${prefix[$side]}")" "${@:2}"
    fi
}
learned() { [[ $1 == builtin ]] && echo "$LEARNED_W" || echo "$LEARNED_O"; }
reset_cmd() {
    if [[ $1 == ovs ]]; then
        echo "ovs-ofctl -O OpenFlow13 del-flows unix:$ovs_dir/br-int.mgmt '$(learned ovs)'"
    else
        echo "$W del-flows $(target "${prefix[$1]}") '$(learned "$1")'"
    fi
}
flow_count() { ofctl "$1" dump-aggregate "$(learned "$1")" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p'; }
# Frames the switch received on the generator's port (ofport 14).
gen_rx() { ofctl "$1" dump-ports 14 | sed -n 's/.*rx pkts=\([0-9]*\).*/\1/p'; }
# wyvern's packet-ins queued and dropped on a full queue, as "Q D" (none for OVS).
packet_ins() {
    [[ $1 == ovs ]] && { echo "null null"; return; }
    "$W" topology show "$(target "${prefix[$1]}")" |
        sed -n 's/^packet-ins: queued \([0-9]*\), dropped \([0-9]*\).*/\1 \2/p'
}

say "building the sides: $sides (load $(load))"
for side in $sides; do
    case $side in
    builtin | osken) wyvern_side "$side" ;;
    ovs) ovs_side ;;
    *) echo "$0: unknown side $side" >&2; exit 2 ;;
    esac
done
for side in $sides; do
    # ARP both ways, and a first route: every reply must come back.
    ip netns exec "${prefix[$side]}vm2" ping -c 3 -i 0.2 -W 2 10.1.0.5 >/dev/null ||
        { echo "$0: $side: vm2 cannot ping vm1" >&2; exit 1; }
done

say "first-packet latency: $reps repetitions per side, interleaved (load $(load))"
probe_args=()
for side in $sides; do
    p=${prefix[$side]}
    probe_args+=(--side "$side" "${p}vm2" "${p}vm1" 10.1.0.5 "$(reset_cmd "$side")")
done
python3 "$here/dvr_probe.py" --reps "$reps" --json "${probe_args[@]}" >"$dir/latency.json"
for side in $sides; do
    # Every first datagram must have gone through the controller (the table-52 priority-20
    # flow that sends to it), or the run measured nothing.
    hits=$(ofctl "$side" dump-flows "table=52" | grep 'priority=20,' | grep 'nw_dst=10.1.0.0/24' |
        grep 'metadata=0x1f43' | sed -n 's/.*n_packets=\([0-9]*\).*/\1/p')
    echo "{\"side\": \"$side\", \"punted\": ${hits:-0}}" >>"$dir/punted.jsonl"
done
say "done (load $(load))"

say "setup rate: $pairs new host pairs per round at rates $rates (load $(load))"
for rate in $rates; do
    for side in $sides; do
        p=${prefix[$side]}
        eval "$(reset_cmd "$side")"
        sleep 0.5
        # Counting until stopped below, once the controller has drained its backlog.
        "$W" pktgen --rx --netns "${p}vm1" --dev eth0 --duration 3600 --json >"$dir/rx.json" &
        rx=$!
        pids+=($rx)
        sleep 1
        l0=$(load)
        rx0=$(gen_rx "$side")
        read -r q0 d0 <<<"$(packet_ins "$side")"
        "$W" pktgen --netns "${p}gen" --dev eth0 --src-mac $GEN_MAC --dst-mac $R1_NET3 \
            --src-ip 10.3.1.0 --dst-ip 10.1.0.5 --vary src-ip --flows "$pairs" \
            --count "$pairs" --rate "$rate" --mode afxdp --json >"$dir/tx.json"
        # Until every pair has its flows, or they stopped growing for 3 s (the controller has
        # drained what reached it), at most 2 minutes.
        last=-1 same=0
        for _ in $(seq 240); do
            n=$(flow_count "$side")
            ((n >= 2 * pairs)) && break
            if [[ $n == "$last" ]]; then same=$((same + 1)); else same=0; fi
            ((same >= 6)) && break
            last=$n
            sleep 0.5
        done
        # The forward flows (one per pair), a quarter of the addresses at a time: a reply of
        # more than ~44k flows passes wyvern's 8 MiB outbox limit, which disconnects the reader.
        # Durations count from each reply's own moment, so each quarter is measured on its
        # own; the generator sends the addresses in order, so the quarters follow each other.
        for q in 0 64 128 192; do
            echo "# quarter $q"
            ofctl "$side" dump-flows "$(learned "$side"),ip,in_port=14,nw_src=10.3.$q.0/18"
        done >"$dir/learned.txt"
        kill -INT "$rx" 2>/dev/null || true
        wait "$rx" || true
        received=$(($(gen_rx "$side") - rx0))
        read -r q1 d1 <<<"$(packet_ins "$side")"
        [[ $q0 == null ]] && queued=null dropped=null || queued=$((q1 - q0)) dropped=$((d1 - d0))
        python3 - "$side" "$rate" "$pairs" "$dir/learned.txt" "$dir/rx.json" "$dir/tx.json" "$l0" \
            "$received" "$queued" "$dropped" >>"$dir/rate.jsonl" <<'EOF'
import json, re, sys
side, rate, pairs, flows, rx, tx, l0, received, queued, dropped = sys.argv[1:]
quarters = [[float(d) for d in re.findall(r"duration=([0-9.]+)s", q)]
            for q in open(flows).read().split("# quarter")]
quarters = [q for q in quarters if q]
installed = sum(map(len, quarters))
# Install times span the quarters back to back: the sum of their spreads (each from one reply),
# over which all but the first flow of each quarter were installed.
spread = sum(max(q) - min(q) for q in quarters)
counted = installed - len(quarters)
def count(path, *keys):
    try:
        j = json.load(open(path))
    except (OSError, ValueError):
        return None
    for k in keys:
        if k in j:
            return j[k]
    return None
print(json.dumps({
    "side": side, "rate": int(rate), "pairs": int(pairs), "installed": installed,
    "setup_rate": counted / spread if spread > 0 else None,
    "delivered": count(rx, "pktgen_packets"), "sent": count(tx, "packets"), "load": l0,
    "received": int(received), "pin_queued": json.loads(queued), "pin_dropped": json.loads(dropped),
}))
EOF
        tail -1 "$dir/rate.jsonl" >&2
    done
done
say "done (load $(load))"

python3 - "$dir/latency.json" "$dir/punted.jsonl" "$dir/rate.jsonl" "$reps" <<'EOF'
import json, sys
lat = json.load(open(sys.argv[1]))
punted = {j["side"]: j["punted"] for j in map(json.loads, open(sys.argv[2]))}
rates = [json.loads(l) for l in open(sys.argv[3])]
reps = int(sys.argv[4])
sides = list(lat)
print(f"\nFirst-packet latency, one-way vm2 -> vm1, µs ({reps} repetitions per side, interleaved)")
print(f"{'side':8} {'first p50':>10} {'cached p50':>10} {'added p10':>10} {'added p50':>10} "
      f"{'added p90':>10} {'added p99':>10} {'lost':>5} {'punted':>7} {'added p50 vs builtin':>21}")
base = lat.get("builtin", {}).get("added_us", {}).get("median")
for s in sides:
    r = lat[s]
    f, c, a = r["first_us"], r["cached_us"], r["added_us"]
    ratio = f"{a['median'] / base:.2f}x" if base and a else "-"
    print(f"{s:8} {f.get('median', 0):10.1f} {c.get('median', 0):10.1f} {a.get('p10', 0):10.1f} "
          f"{a.get('median', 0):10.1f} {a.get('p90', 0):10.1f} {a.get('p99', 0):10.1f} "
          f"{r['lost']:5} {punted.get(s, 0):7} {ratio:>21}")
print("\nSetup rate: new host pairs per second (install-time spread of the learned flows)")
print(f"{'offered/s':>9} {'side':8} {'received':>8} {'pin drop':>8} {'installed':>9} "
      f"{'dropped':>8} {'delivered':>9} {'pairs/s':>9} {'builtin vs side':>15} {'load':>15}")
by = {(r["rate"], r["side"]): r for r in rates}
for r in rates:
    b = by.get((r["rate"], "builtin"), {}).get("setup_rate")
    ratio = f"{b / r['setup_rate']:.1f}x" if b and r["setup_rate"] else "-"
    sr = f"{r['setup_rate']:.0f}" if r["setup_rate"] else "-"
    pd = "-" if r["pin_dropped"] is None else str(r["pin_dropped"])
    print(f"{r['rate']:9} {r['side']:8} {r['received']:8} {pd:>8} {r['installed']:9} "
          f"{r['pairs'] - r['installed']:8} {str(r['delivered']):>9} {sr:>9} {ratio:>15} "
          f"{r['load']:>15}")
print("\nTargets (builtin)")
if base is not None:
    met = "met" if base <= 200 else "NOT met"
    print(f"  first packet's added latency <= 200 us over a cached one: median {base:.0f} us: {met}")
mine = [r for r in rates if r["side"] == "builtin" and r["setup_rate"]]
if mine:
    best = max(mine, key=lambda r: r["setup_rate"])
    lossless = [r for r in mine if r["installed"] == r["pairs"]]
    top = max(lossless, key=lambda r: r["rate"]) if lossless else None
    met = "met" if best["setup_rate"] >= 50000 else "NOT met"
    print(f"  setup rate >= 50,000 new host pairs/s: best {best['setup_rate']:.0f}/s "
          f"(offered {best['rate']}/s, {best['pairs'] - best['installed']} pairs dropped); "
          f"no pair dropped up to {top['rate'] if top else 0}/s offered: {met}")
    for peer in ("osken", "ovs"):
        theirs = [r["setup_rate"] for r in rates if r["side"] == peer and r["setup_rate"]]
        if theirs:
            print(f"  best vs best, builtin / {peer}: {best['setup_rate'] / max(theirs):.0f}x "
                  f"({max(theirs):.0f}/s)")
EOF

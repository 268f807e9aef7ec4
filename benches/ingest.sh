#!/usr/bin/env bash
# Flow-mod ingest: how fast a switch takes N Dragonflow learned flows (the flows of
# benches/common/learned.rs, table 52) from a client, and what they cost it in memory --
# wyvern and Open vSwitch side by side in one run.
#
# Builds `wyvern` (release), then for each row starts a fresh switch -- `wyvern run`, or a
# private ovsdb-server + ovs-vswitchd with the userspace "netdev" datapath -- with everything
# under a temp dir (stopped by pid, removed at the end), loads the flows through the switch's
# unix management socket, and prints one line per row, then a table and the ratios:
#
#   wyvern add-flows [--bundle]     -> wyvern run      (wyvern's own client: the file streamed
#                                                       into one bundle as it is parsed; with
#                                                       or without --bundle alike)
#   ovs-ofctl add-flows [--bundle]  -> wyvern run      (ovs-ofctl: a barrier round trip per
#                                                       flow mod, or one bundle)
#   ovs-ofctl add-flows [--bundle]  -> ovs-vswitchd    (the peer)
#   wyvern add-flows                -> ovs-vswitchd    (wyvern's client into the peer)
#
# Wall time runs from starting the client until it exits: every client here waits for the
# switch to confirm the flows (a barrier or bundle-commit reply). Switch CPU is the user +
# system time of the switch process (all its threads) over the same span; memory is the
# switch's RSS growth over the load, per flow. A dump-aggregate afterwards checks that all
# the flows are in (the "installed" count). The machine is shared: each row runs REPEAT
# times (each in a fresh switch) and the fastest run is kept, for wyvern and OVS alike.
#
# Usage: [REPEAT=3] benches/ingest.sh [N]   (N default 100000; uses $CARGO_TARGET_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benches/common/switches.sh
source benches/common/switches.sh

n=${1:-100000}
cargo build --release --quiet -p wyvern-cli
wyvern=${CARGO_TARGET_DIR:-target}/release/wyvern

dir=$(mktemp -d /tmp/wyvern-ingest.XXXXXX)
run=0
cleanup() {
    [[ -n ${wyvern_pid:-} ]] && wyvern_stop
    ovs_stop "$dir/ovs$run"
    rm -rf "$dir"
}
trap cleanup EXIT
flows=$dir/flows.txt
learned_flows "$n" >"$flows"

echo "# ingest of $n flows, $(date -u +%FT%TZ), $(git rev-parse --short HEAD), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
results=$dir/results.txt

# into_wyvern LABEL CLIENT ARGS...: a fresh `wyvern run`, loaded by CLIENT ARGS TARGET FILE.
into_wyvern() {
    local label=$1 client=$2
    shift 2
    run=$((run + 1))
    wyvern_start "$wyvern" "$dir/wyvern$run"
    measure_load "$label" "$n" "$wyvern_pid" "$wyvern_target" \
        "$client" "$@" "$wyvern_target" "$flows"
    wyvern_stop
    wyvern_pid=
}

# into_ovs LABEL CLIENT ARGS...: a fresh ovs-vswitchd with bridge "bench", loaded likewise.
into_ovs() {
    local label=$1 client=$2
    shift 2
    run=$((run + 1))
    ovs_start "$dir/ovs$run"
    ovs_bridge bench
    local target=unix:$OVS_RUNDIR/bench.mgmt
    measure_load "$label" "$n" "$ovs_pid" "$target" "$client" "$@" "$target" "$flows"
    ovs_stop "$dir/ovs$run"
}

# best_of ROW ARGS...: runs `ROW ARGS...` REPEAT times, prints each result and keeps the
# fastest (by wall time) in the results.
best_of() {
    local i tries=$dir/tries.txt
    : >"$tries"
    for i in $(seq "${REPEAT:-3}"); do
        # Not in a pipeline: the row must run in this shell (the exit trap stops its switch).
        "$@" >"$dir/try.txt"
        tee -a "$tries" <"$dir/try.txt"
    done
    awk -F' in ' '{split($2, w, " "); print w[1], $0}' "$tries" | sort -n | head -1 |
        cut -d' ' -f2- >>"$results"
}

best_of into_wyvern "wyvern add-flows -> wyvern" "$wyvern" add-flows
best_of into_wyvern "wyvern add-flows --bundle -> wyvern" "$wyvern" add-flows --bundle
# (-vconsole:err: on a busy machine ovs-ofctl logs its own slow poll loop on stderr.)
ofctl=(ovs-ofctl -O OpenFlow13 -vconsole:err)
best_of into_wyvern "ovs-ofctl add-flows -> wyvern" "${ofctl[@]}" add-flows
best_of into_wyvern "ovs-ofctl --bundle add-flows -> wyvern" "${ofctl[@]}" --bundle add-flows
best_of into_ovs "ovs-ofctl add-flows -> OVS" "${ofctl[@]}" add-flows
best_of into_ovs "ovs-ofctl --bundle add-flows -> OVS" "${ofctl[@]}" --bundle add-flows
best_of into_ovs "wyvern add-flows -> OVS" "$wyvern" add-flows

# The table (fastest run of each row), and wyvern's own client against OVS's fastest load
# (--bundle).
echo "# fastest of ${REPEAT:-3} runs each, load now: $(cut -d' ' -f1-3 /proc/loadavg)"
awk -F': ' '
    {
        label[NR] = $1; split($2, w, " ");
        # w: N flows (M installed) in WALL s = RATE flows/s wall; switch CPU CPU s = CRATE flows/s; switch RSS +B bytes/flow
        wall[NR] = w[6]; rate[NR] = w[9]; cpu[NR] = w[14]; crate[NR] = w[17]; rss[NR] = substr(w[21], 2);
        if ($1 == "wyvern add-flows -> wyvern") me = NR;
        if ($1 == "ovs-ofctl --bundle add-flows -> OVS") peer = NR;
    }
    END {
        print "";
        print "| client -> switch | wall s | flows/s (wall) | switch CPU s | flows/s (switch CPU) | switch RSS bytes/flow |";
        print "|---|---|---|---|---|---|";
        for (i = 1; i <= NR; i++)
            printf "| %s | %.3f | %d | %.2f | %d | %.0f |\n", label[i], wall[i], rate[i], cpu[i], crate[i], rss[i];
        print "";
        printf "wyvern add-flows -> wyvern vs ovs-ofctl --bundle add-flows -> OVS: %.1fx wall, %.1fx switch CPU, %.2fx memory per flow\n", \
            rate[me] / rate[peer], crate[me] / crate[peer], rss[me] / rss[peer];
        printf "targets: >= 500000 flows/s wall: %s (%d); >= 5x OVS bundled: %s (%.1fx); <= 256 bytes/flow: %s (%.0f)\n", \
            (rate[me] >= 500000 ? "met" : "NOT met"), rate[me], (rate[me] >= 5 * rate[peer] ? "met" : "NOT met"), \
            rate[me] / rate[peer], (rss[me] <= 256 ? "met" : "NOT met"), rss[me];
    }' "$results"

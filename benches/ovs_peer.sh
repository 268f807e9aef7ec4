#!/usr/bin/env bash
# The peer for the classifier benches: Open vSwitch's own ofproto classifier, on this machine.
#
# Starts a private ovsdb-server + ovs-vswitchd (userspace "netdev" datapath, everything under
# a temp dir, stopped by pid at the end), then times `ovs-ofctl add-flows` of N Dragonflow
# learned flows -- the same flows as benches/common/learned.rs: table 52, priority 100,
# ip,metadata,in_port,dl_src,dl_dst,nw_src,nw_dst, dec_ttl + two MAC rewrites + output -- into
# an empty bridge, and reads ovs-vswitchd's CPU time and RSS before and after.
#
# Each N is loaded in each mode into a fresh bridge of a fresh ovs-vswitchd (so one load's
# freed memory cannot hide the next one's growth): plain (`add-flows`: one flow mod per flow,
# then a barrier round trip) and as one bundle (`--bundle add-flows`: atomic, as
# Pipeline::apply batches). The time runs until ovs-ofctl exits, which it does once OVS has
# answered the last barrier or the bundle commit.
#
# Usage: [MODES="plain bundle"] benches/ovs_peer.sh [N ...]      (default: 100000)
# (plain at 1,000,000 takes many minutes: OVS's per-flow-mod cost grows with the table.)
# Prints one line per N and mode: flows, wall seconds and flows/s, ovs-vswitchd CPU seconds
# and flows/s, ovs-vswitchd RSS bytes per flow. benches/ingest.sh puts the same loads side by
# side with wyvern's.
set -euo pipefail
# shellcheck source=benches/common/switches.sh
source "$(dirname "$0")/common/switches.sh"

counts=("${@:-100000}")
# shellcheck disable=SC2206
counts=(${counts[*]})

dir=$(mktemp -d /tmp/ovs-peer.XXXXXX)
run=0
trap 'ovs_stop "$dir/ovs$run"; rm -rf "$dir"' EXIT

for n in "${counts[@]}"; do
    learned_flows "$n" >"$dir/flows.txt"
    for mode in ${MODES:-plain bundle}; do
        run=$((run + 1))
        ovs_start "$dir/ovs$run"
        ovs_bridge bench
        opts=(-O OpenFlow13 -vconsole:err)
        [[ $mode == bundle ]] && opts+=(--bundle)
        measure_load "ovs_peer/add_flows_$mode" "$n" "$ovs_pid" bench \
            ovs-ofctl "${opts[@]}" add-flows bench "$dir/flows.txt"
        ovs_stop "$dir/ovs$run"
    done
done

#!/usr/bin/env bash
# The peer for the classifier benches: Open vSwitch's own ofproto classifier, on this machine.
#
# Starts a private ovsdb-server + ovs-vswitchd (userspace "netdev" datapath, everything under
# a temp dir, stopped by pid at the end), then times `ovs-ofctl add-flows` of N Dragonflow
# learned flows -- the same flows as benches/common/learned.rs: table 52, priority 100,
# ip,metadata,in_port,dl_src,dl_dst,nw_src,nw_dst, dec_ttl + two MAC rewrites + output -- into
# an empty bridge, and reads ovs-vswitchd's RSS before and after.
#
# Each N is loaded twice into a fresh bridge: plain (`add-flows`: one flow mod per flow, then
# a round trip) and as one bundle (`--bundle add-flows`: atomic, as Pipeline::apply batches).
#
# Usage: [MODES="plain bundle"] benches/ovs_peer.sh [N ...]      (default: 100000)
# (plain at 1,000,000 takes many minutes: OVS's per-flow-mod cost grows with the table.)
# Prints one line per N and mode: flows, wall seconds and flows/s, ovs-vswitchd CPU seconds
# and flows/s, ovs-vswitchd RSS bytes per flow.
set -euo pipefail

counts=("${@:-100000}")
# shellcheck disable=SC2206
counts=(${counts[*]})

dir=$(mktemp -d /tmp/ovs-peer.XXXXXX)
export OVS_RUNDIR=$dir OVS_LOGDIR=$dir OVS_DBDIR=$dir OVS_SYSCONFDIR=$dir
db=unix:$dir/db.sock

stop() {
    for p in "$dir"/ovs-vswitchd.pid "$dir"/ovsdb-server.pid; do
        [[ -f $p ]] && kill "$(cat "$p")" 2>/dev/null || true
    done
    sleep 0.5
    rm -rf "$dir"
}
trap stop EXIT

ovsdb-tool create "$dir/conf.db" /usr/share/openvswitch/vswitch.ovsschema
ovsdb-server "$dir/conf.db" --remote="punix:$dir/db.sock" --detach \
    --pidfile="$dir/ovsdb-server.pid" --log-file="$dir/ovsdb-server.log"
ovs-vsctl --db="$db" --no-wait init
ovs-vswitchd "$db" --detach --pidfile="$dir/ovs-vswitchd.pid" \
    --log-file="$dir/ovs-vswitchd.log" -vconsole:off
vswitchd=$(cat "$dir/ovs-vswitchd.pid")

rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$vswitchd/status"; }
# ovs-vswitchd's own CPU time (user + system), in seconds: the switch's share of the work,
# without ovs-ofctl's parsing and encoding.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$vswitchd/stat"; }

# The flows of benches/common/learned.rs, flow i from VM i/1000 to VM i%1000.
flows() {
    awk -v n="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            s = int(i / 1000); d = i % 1000;
            ns = s % 16; nd = d % 16;
            printf "table=52,priority=100,idle_timeout=300,cookie=0x%x,ip,metadata=0x%x,in_port=%d,", \
                4616189618054758400 + i, 4096 + ns, 1000 + s;
            printf "dl_src=fa:16:3e:%02x:%02x:%02x,dl_dst=fa:16:3e:ff:00:%02x,", \
                int(s / 65536) % 256, int(s / 256) % 256, s % 256, ns;
            printf "nw_src=10.%d.%d.%d,nw_dst=10.%d.%d.%d ", ns, int(s / 256), s % 256, nd, int(d / 256), d % 256;
            printf "actions=dec_ttl,set_field:fa:16:3e:ff:00:%02x->eth_src,", nd;
            printf "set_field:fa:16:3e:%02x:%02x:%02x->eth_dst,output:%d\n", \
                int(d / 65536) % 256, int(d / 256) % 256, d % 256, 1000 + d;
        }
    }'
}

n_br=0
for n in "${counts[@]}"; do
    flows "$n" >"$dir/flows.txt"
    for mode in ${MODES:-plain bundle}; do
        br=bench$n_br
        n_br=$((n_br + 1))
        ovs-vsctl --db="$db" add-br "$br" -- set bridge "$br" datapath_type=netdev \
            protocols=OpenFlow13
        opts=(-O OpenFlow13)
        [[ $mode == bundle ]] && opts+=(--bundle)
        before=$(rss)
        c0=$(cpu)
        t0=$(date +%s.%N)
        ovs-ofctl "${opts[@]}" add-flows "$br" "$dir/flows.txt"
        # A round trip after the last flow mod: every flow is in the table when it returns.
        installed=$(ovs-ofctl -O OpenFlow13 dump-aggregate "$br" table=52 | sed 's/.*flow_count=//')
        t1=$(date +%s.%N)
        c1=$(cpu)
        after=$(rss)
        awk -v n="$n" -v m="$mode" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" \
            -v b="$before" -v a="$after" -v got="$installed" 'BEGIN {
            printf "ovs_peer/add_flows_%s: %d flows (%d installed) in %.3f s = %.0f flows/s wall; ", m, n, got, t1 - t0, n / (t1 - t0);
            printf "vswitchd CPU %.3f s = %.0f flows/s; vswitchd RSS +%.1f bytes/flow\n", c1 - c0, n / (c1 - c0), (a - b) / n }'
        ovs-vsctl --db="$db" del-br "$br"
    done
done

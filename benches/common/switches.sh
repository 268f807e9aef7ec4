# Shell helpers of the benchmark scripts that drive whole switches (benches/ovs_peer.sh,
# benches/ingest.sh): the learned flows as ovs-ofctl text, a private Open vSwitch, a
# `wyvern run`, and timing one load into a switch process. Source it; it defines functions
# only. Everything lives under the directory given to each start function and is stopped by
# pid.

# learned_flows N: the flows of benches/common/learned.rs, flow i from VM i/1000 to VM
# i%1000: table 52, priority 100, idle_timeout 300, cookie 0x1008000000000000|i,
# ip,metadata,in_port,dl_src,dl_dst,nw_src,nw_dst, dec_ttl + two MAC rewrites + output.
learned_flows() {
    awk -v n="$1" 'BEGIN {
        for (i = 0; i < n; i++) {
            s = int(i / 1000); d = i % 1000;
            ns = s % 16; nd = d % 16;
            printf "table=52,priority=100,idle_timeout=300,cookie=0x1008%012x,ip,metadata=0x%x,in_port=%d,", \
                i, 4096 + ns, 1000 + s;
            printf "dl_src=fa:16:3e:%02x:%02x:%02x,dl_dst=fa:16:3e:ff:00:%02x,", \
                int(s / 65536) % 256, int(s / 256) % 256, s % 256, ns;
            printf "nw_src=10.%d.%d.%d,nw_dst=10.%d.%d.%d ", ns, int(s / 256), s % 256, nd, int(d / 256), d % 256;
            printf "actions=dec_ttl,set_field:fa:16:3e:ff:00:%02x->eth_src,", nd;
            printf "set_field:fa:16:3e:%02x:%02x:%02x->eth_dst,output:%d\n", \
                int(d / 65536) % 256, int(d / 256) % 256, d % 256, 1000 + d;
        }
    }'
}

# ovs_start DIR [NETNS]: a private ovsdb-server + ovs-vswitchd (userspace datapath) under
# DIR. Exports OVS_RUNDIR & co. (so ovs-vsctl and ovs-ofctl find it) and sets $ovs_db and
# $ovs_pid (ovs-vswitchd's pid). With NETNS, ovs-vswitchd runs in that network namespace (its
# ports are that namespace's interfaces) and is not daemonized, so it stays in the caller's
# session (and its bench_session priority, benches/common/netns.sh).
ovs_start() {
    local d=$1 ns=${2:-}
    mkdir -p "$d"
    export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d OVS_SYSCONFDIR=$d
    ovs_db=unix:$d/db.sock
    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema
    ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" --detach \
        --pidfile="$d/ovsdb-server.pid" --log-file="$d/ovsdb-server.log" 2>/dev/null
    ovs-vsctl --db="$ovs_db" --no-wait init
    if [[ -n $ns ]]; then
        ip netns exec "$ns" ovs-vswitchd "$ovs_db" --pidfile="$d/ovs-vswitchd.pid" \
            --log-file="$d/ovs-vswitchd.log" -vconsole:off 2>/dev/null &
        ovs_pid=$!
        return
    fi
    ovs-vswitchd "$ovs_db" --detach --pidfile="$d/ovs-vswitchd.pid" \
        --log-file="$d/ovs-vswitchd.log" -vconsole:off 2>/dev/null
    ovs_pid=$(cat "$d/ovs-vswitchd.pid")
}

# ovs_stop DIR: stops what ovs_start DIR started, by the pids in its pid files.
ovs_stop() {
    local p
    for p in "$1"/ovs-vswitchd.pid "$1"/ovsdb-server.pid; do
        [[ -f $p ]] && kill "$(cat "$p")" 2>/dev/null || true
    done
}

# ovs_bridge NAME: an OpenFlow13 bridge on the netdev datapath of the running ovs_start.
ovs_bridge() {
    ovs-vsctl --db="$ovs_db" add-br "$1" -- set bridge "$1" datapath_type=netdev \
        protocols=OpenFlow13
}

# wyvern_start WYVERN DIR: `WYVERN run` with bridge br-bench and its management socket in
# DIR; waits for the socket. Sets $wyvern_pid and $wyvern_target (unix:DIR/br-bench.mgmt).
wyvern_start() {
    local bin=$1 d=$2 i
    mkdir -p "$d"
    "$bin" run --bridge br-bench --run-dir "$d" 2>"$d/wyvern.log" &
    wyvern_pid=$!
    wyvern_target=unix:$d/br-bench.mgmt
    for i in $(seq 200); do
        [[ -S $d/br-bench.mgmt ]] && return 0
        sleep 0.05
    done
    echo "wyvern run did not open $d/br-bench.mgmt; see $d/wyvern.log" >&2
    return 1
}

# wyvern_stop: stops the `wyvern run` of wyvern_start.
wyvern_stop() {
    kill "$wyvern_pid" 2>/dev/null || true
    wait "$wyvern_pid" 2>/dev/null || true
}

# rss_of PID: resident bytes. cpu_of PID: user + system CPU seconds of all its threads.
rss_of() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$1/status"; }
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

# measure_load LABEL N PID TARGET COMMAND...: runs COMMAND, a client that loads N flows into
# table 52 of the switch process PID and exits once the switch has confirmed them (a barrier
# or bundle-commit reply), then asks TARGET for table 52's flow count (untimed). Prints one
# line: LABEL, flows, installed, wall seconds, switch CPU seconds, switch RSS bytes per flow
# (growth over the load).
measure_load() {
    local label=$1 n=$2 pid=$3 target=$4
    shift 4
    local before c0 t0 t1 c1 after installed
    before=$(rss_of "$pid")
    c0=$(cpu_of "$pid")
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    c1=$(cpu_of "$pid")
    after=$(rss_of "$pid")
    installed=$(ovs-ofctl -O OpenFlow13 --no-names dump-aggregate "$target" table=52 |
        sed 's/.*flow_count=//')
    awk -v l="$label" -v n="$n" -v got="$installed" -v t0="$t0" -v t1="$t1" -v c0="$c0" \
        -v c1="$c1" -v b="$before" -v a="$after" 'BEGIN {
        printf "%s: %d flows (%d installed) in %.3f s = %.0f flows/s wall; ", l, n, got, t1 - t0, n / (t1 - t0);
        printf "switch CPU %.3f s = %.0f flows/s; ", c1 - c0, (c1 > c0 ? n / (c1 - c0) : 0);
        printf "switch RSS +%.1f bytes/flow\n", (a - b) / n }'
}

# Shared by the benches that build namespaces and start processes (sourced, not run):
#
#   bench_session "$@"        first thing in the script: re-runs it in a session of its own
#                             whose autogroup gets nice $NICE (default -20). Linux schedules
#                             sessions against each other (autogroup), so `nice` alone does
#                             not keep other sessions' work off the measured CPUs.
#   bench_setup PREFIX NS...  makes the temp dir $dir, creates the namespaces NS (lo up) and
#                             arranges for everything to be removed on exit, failure or
#                             Ctrl-C: the processes whose pids are in $pids or in $dir/*.pid
#                             (stopped by pid), the namespaces, $dir (copied to $log.d
#                             first when KEEP is set).

bench_session() {
    if [[ -z ${BENCH_SESSION:-} ]]; then
        BENCH_SESSION=1 exec setsid --wait "$0" "$@"
    fi
    echo "${NICE:--20}" >/proc/self/autogroup
}

bench_setup() {
    local prefix=$1
    shift
    bench_namespaces=("$@")
    dir=$(mktemp -d "/tmp/$prefix.XXXXXX")
    pids=()
    trap bench_cleanup EXIT INT TERM
    local ns
    for ns in "${bench_namespaces[@]}"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
    done
}

bench_cleanup() {
    set +e
    local pid f ns
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for f in "$dir"/*.pid; do
        [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 0.5
    for ns in "${bench_namespaces[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    [[ -n ${KEEP:-} ]] && rm -rf "$log.d" && cp -r "$dir" "$log.d" && echo "kept $log.d"
    rm -rf "$dir"
}

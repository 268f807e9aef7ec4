#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md and its peer in one go, so the ratios come from the
# same machine state. Usage: benches/run_all.sh [LOG]   (default: target/bench-all.log)
set -euo pipefail
cd "$(dirname "$0")/.."
log=${1:-${CARGO_TARGET_DIR:-target}/bench-all.log}
mkdir -p "$(dirname "$log")"
{
    echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
    cargo bench --bench pipeline -- --noplot
    cargo bench --bench classifier -- --noplot
    cargo bench --bench flow_memory
    benches/ovs_peer.sh 100000
    MODES=bundle benches/ovs_peer.sh 1000000
    benches/ingest.sh 100000
    cargo bench --bench dvr_controller -- --noplot
    benches/dvr_setup.sh
    echo "# done $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$log"

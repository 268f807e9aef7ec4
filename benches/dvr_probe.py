#!/usr/bin/env python3
"""One-way latency of the first packet of a host pair through reactive L3 switches.

Usage: dvr_probe.py --side NAME SRC_NS DST_NS DST_IP 'RESET COMMAND' [--side ...]
                    [--reps 200] [--port 5555] [--cached 3] [--settle-ms 50] [--json]

For each side (a switch with its namespaces) the probe opens a UDP socket in the source and
in the destination namespace (a socket stays in its namespace once made, so one process
times both ends on one clock). Each repetition visits every side, starting with a different
one each time so that no side always comes first: it runs the side's reset command (which
deletes the flows the controller learned), waits --settle-ms, then sends one datagram from
the source namespace, which takes the controller's path (packet-in, flow install,
re-injection); then --cached more, 2 ms apart, which take the learned flow. The latency of
each is the receiving socket's kernel timestamp (SO_TIMESTAMPNS) minus the time just before
sendto: the sender's stack, the switch and the receiver's stack, never a reply path. A
repetition whose first or every cached datagram is lost (1 s) is counted as lost, skipped.

Prints, per side, the median and percentiles of the first, of the cached (the median of each
repetition's cached datagrams), and of their difference per repetition (the added latency),
in microseconds; --json prints one JSON object keyed by side. Needs root (setns) and
nothing but the Python standard library.
"""

import argparse
import ctypes
import json
import os
import select
import socket
import statistics
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
SO_TIMESTAMPNS = 35
LIBC = ctypes.CDLL(None, use_errno=True)


def socket_in(ns, bind):
    """A UDP socket created inside network namespace `ns` (the thread returns home after)."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if LIBC.setns(target, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {ns}")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        if bind:
            s.bind(bind)
        return s
    finally:
        LIBC.setns(home, CLONE_NEWNET)
        os.close(home)
        os.close(target)


def receive(sock, timeout):
    """Kernel receive time (ns, realtime) and payload of the next datagram, or None."""
    if not select.select([sock], [], [], timeout)[0]:
        return None
    data, anc, _, _ = sock.recvmsg(64, socket.CMSG_SPACE(16))
    for level, kind, raw in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", raw[:16])
            return sec * 1_000_000_000 + nsec, data
    return None


def one(tx, rx, dst, seq):
    """Sends datagram `seq`; its one-way latency in µs, or None if it did not arrive."""
    payload = struct.pack("!Q", seq)
    t0 = time.time_ns()
    tx.sendto(payload, dst)
    deadline = time.monotonic() + 1.0
    while (left := deadline - time.monotonic()) > 0:
        got = receive(rx, left)
        if got is None:
            return None
        ts, data = got
        if data == payload:
            return (ts - t0) / 1000.0
    return None


def percentiles(values):
    v = sorted(values)
    if not v:
        return {}

    def at(q):
        return v[min(len(v) - 1, int(q * len(v)))]

    return {
        "n": len(v),
        "p10": at(0.10),
        "median": statistics.median(v),
        "p90": at(0.90),
        "p99": at(0.99),
    }


class Side:
    """One switch under test: its sockets, reset command and results."""

    def __init__(self, name, src_ns, dst_ns, dst_ip, reset, port):
        self.name, self.reset = name, reset
        self.rx = socket_in(dst_ns, ("0.0.0.0", port))
        self.rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.tx = socket_in(src_ns, None)
        self.dst = (dst_ip, port)
        self.first, self.cached, self.added = [], [], []
        self.lost = 0

    def repetition(self, seq, settle_ms, cached):
        """One reset, one first datagram, `cached` more; returns the next sequence number."""
        subprocess.run(self.reset, shell=True, check=True, stdout=subprocess.DEVNULL)
        time.sleep(settle_ms / 1000)
        f = one(self.tx, self.rx, self.dst, seq)
        rest = []
        for n in range(cached):
            time.sleep(0.002)
            c = one(self.tx, self.rx, self.dst, seq + 1 + n)
            if c is not None:
                rest.append(c)
        if f is None or not rest:
            self.lost += 1
        else:
            c = statistics.median(rest)
            self.first.append(f)
            self.cached.append(c)
            self.added.append(f - c)
        return seq + 1 + cached

    def result(self):
        return {
            "first_us": percentiles(self.first),
            "cached_us": percentiles(self.cached),
            "added_us": percentiles(self.added),
            "lost": self.lost,
        }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--side", nargs=5, action="append", required=True,
                    metavar=("NAME", "SRC_NS", "DST_NS", "DST_IP", "RESET"))
    ap.add_argument("--port", type=int, default=5555)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--cached", type=int, default=3)
    ap.add_argument("--settle-ms", type=float, default=50)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    sides = [Side(*args, a.port + n) for n, args in enumerate(a.side)]
    seq = 0
    for rep in range(a.reps):
        for k in range(len(sides)):
            seq = sides[(rep + k) % len(sides)].repetition(seq, a.settle_ms, a.cached)
    results = {s.name: s.result() for s in sides}
    if a.json:
        print(json.dumps(results))
        return 0
    for name, r in results.items():
        for k in ("first_us", "cached_us", "added_us"):
            p = r[k]
            if p:
                print(f"{name:10} {k:10} n={p['n']} p10={p['p10']:.1f} median={p['median']:.1f} "
                      f"p90={p['p90']:.1f} p99={p['p99']:.1f}")
        print(f"{name:10} lost {r['lost']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

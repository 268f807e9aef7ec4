"""An os-ken 4.x app doing the reactive L3 job of the Dragonflow blog, for any wyvern DVR
configuration: the external controller of `wyvern lab --controller` (cli/tests/lab.rs) and the
peer of benches/dvr_setup.sh, against wyvern (`builtin_controller = false`) or Open vSwitch
carrying the same tables.

Usage: python osken_l3.py PORT [HOST] --config FILE [--chassis NAME] [--quiet]

Listens on HOST:PORT (HOST 127.0.0.1 by default). FILE is the switch's configuration (the
`[[network]]`, `[[router]]`, `[[port]]` and `[[chassis]]` tables `wyvern run` reads); NAME is
the chassis the switch is (default: the first). On a packet-in from the east-west table (52)
it does what wyvern's built-in controller does: the source network from the metadata, the
packet must be addressed to that network's router MAC and come from the MAC of the port that
owns its source address; the destination is the port owning `nw_dst` on a network attached to
the same router, and must be on this chassis (this app has no tunnel support). It installs one
flow per direction at priority 100 — match metadata, in_port, dl_src, dl_dst, nw_src, nw_dst;
actions dec_ttl, eth_src := the router's MAC on the destination network, eth_dst := the
destination's MAC, output — with cookie 0xd2 << 56 | source id << 24 | destination id (ids
are the ports' places in FILE, from 1), then a barrier, then sends the packet back through
the tables (packet-out to OFPP_TABLE) so the first packet is not lost.

Prints `READY` once listening, a JSON line when a switch connects (`connected`) and, unless
--quiet, one per decision (`routed`, `ignored`).
"""

import argparse
import ipaddress
import json
import os
import socket
import sys
import tomllib

from os_ken.lib import hub

hub.patch(thread=False)

from os_ken.base import app_manager  # noqa: E402
from os_ken.controller import ofp_event  # noqa: E402
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls  # noqa: E402
from os_ken.ofproto import ofproto_v1_3  # noqa: E402

EAST_WEST = 52
COOKIE_TAG = 0xD2 << 56
# Set by main() before the app is instantiated.
OPTIONS = argparse.Namespace(config=None, chassis=None, quiet=False)


def report(**kw):
    print(json.dumps(kw), flush=True)


def mac_text(b):
    return ":".join(f"{x:02x}" for x in b)


class Topology:
    """The parts of a wyvern configuration routing needs, indexed as wyvern's RouteIndex is."""

    def __init__(self, path, chassis):
        with open(path, "rb") as f:
            t = tomllib.load(f)
        self.chassis = chassis or t["chassis"][0]["name"]
        self.idle_timeout = t.get("l3_idle_timeout", 300)
        nets = t.get("network", [])
        self.segments = {}
        for n in nets:
            self.segments.setdefault(n["segmentation_id"], n["name"])
        subnets = {
            n["name"]: [ipaddress.ip_network(s["cidr"]) for s in n.get("subnets", [])]
            for n in nets
        }
        self.seg_of = {n["name"]: n["segmentation_id"] for n in nets}
        # network -> (router, MAC) of its gateway; router -> [(network, MAC, subnets)]
        self.gateway = {}
        self.interfaces = {}
        for r in t.get("router", []):
            for i in r.get("interfaces", []):
                self.gateway.setdefault(i["network"], (r["name"], i["mac"].lower()))
                self.interfaces.setdefault(r["name"], []).append(
                    (i["network"], i["mac"].lower(), subnets.get(i["network"], []))
                )
        # (network, IP) -> (id, MAC, chassis, ofport)
        self.ports = {}
        for n, p in enumerate(t.get("port", []), start=1):
            for ip in p.get("ips", []):
                self.ports.setdefault(
                    (p["network"], ip), (n, p["mac"].lower(), p["chassis"], p.get("ofport"))
                )

    def network_of_metadata(self, metadata):
        for mask in (0xFFFF, 0xFFFFFF):
            seg = metadata & mask
            name = self.segments.get(seg)
            if name is not None and (seg <= 0xFFFF) == (mask == 0xFFFF):
                return name
        return None

    def route(self, metadata, eth_src, eth_dst, src_ip, dst_ip):
        """(src network, src port, dst network, dst port) or the reason there is none."""
        src_net = self.network_of_metadata(metadata)
        if src_net is None:
            return "metadata names no network"
        router, gw_mac = self.gateway.get(src_net, (None, None))
        if router is None:
            return "the source network has no router"
        if eth_dst != gw_mac:
            return "not addressed to the router's MAC"
        dst_addr = ipaddress.ip_address(dst_ip)
        dst_net = next(
            (
                net
                for net, _, cidrs in self.interfaces[router]
                if net != src_net and any(dst_addr in c for c in cidrs)
            ),
            None,
        )
        if dst_net is None:
            return "no router interface reaches the destination"
        dst = self.ports.get((dst_net, dst_ip))
        if dst is None:
            return "the destination address is no known port"
        src = self.ports.get((src_net, src_ip))
        if src is None:
            return "the source address is no known port"
        if src[1] != eth_src:
            return "the source MAC is not the source port's"
        if dst[2] != self.chassis or dst[3] is None:
            return "the destination is on another chassis"
        return src_net, src, dst_net, dst


class L3(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.topo = Topology(OPTIONS.config, OPTIONS.chassis)

    def flow(self, dp, in_port, frm, to):
        """The flow from (network, IP, port) `frm` to `to`, arriving on `in_port`."""
        parser = dp.ofproto_parser
        (src_net, src_ip, (src_id, src_mac, _, _)) = frm
        (dst_net, dst_ip, (dst_id, dst_mac, _, dst_ofport)) = to
        match = parser.OFPMatch(
            metadata=self.topo.seg_of[src_net],
            in_port=in_port,
            eth_src=src_mac,
            eth_dst=self.topo.gateway[src_net][1],
            eth_type=0x0800,
            ipv4_src=src_ip,
            ipv4_dst=dst_ip,
        )
        actions = [
            parser.OFPActionDecNwTtl(),
            parser.OFPActionSetField(eth_src=self.topo.gateway[dst_net][1]),
            parser.OFPActionSetField(eth_dst=dst_mac),
            parser.OFPActionOutput(dst_ofport),
        ]
        inst = [parser.OFPInstructionActions(dp.ofproto.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(
            parser.OFPFlowMod(
                dp,
                cookie=COOKIE_TAG | (src_id & 0xFFFFFF) << 24 | (dst_id & 0xFFFFFF),
                table_id=EAST_WEST,
                priority=100,
                idle_timeout=self.topo.idle_timeout,
                match=match,
                instructions=inst,
            )
        )

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        report(event="connected", dpid=ev.msg.datapath_id)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        msg = ev.msg
        dp = msg.datapath
        data = msg.data
        # Ethernet + IPv4 addresses straight from the frame (the lab has no VLAN tags).
        if msg.table_id != EAST_WEST or len(data) < 34 or data[12:14] != b"\x08\x00":
            if not OPTIONS.quiet:
                report(decision="ignored", table=msg.table_id)
            return
        src_ip, dst_ip = socket.inet_ntoa(data[26:30]), socket.inet_ntoa(data[30:34])
        route = self.topo.route(
            msg.match.get("metadata", 0), mac_text(data[6:12]), mac_text(data[0:6]), src_ip, dst_ip
        )
        if isinstance(route, str):
            if not OPTIONS.quiet:
                report(decision="ignored", src=src_ip, dst=dst_ip, why=route)
            return
        src_net, src, dst_net, dst = route
        in_port = msg.match["in_port"]
        self.flow(dp, in_port, (src_net, src_ip, src), (dst_net, dst_ip, dst))
        self.flow(dp, dst[3], (dst_net, dst_ip, dst), (src_net, src_ip, src))
        parser, ofp = dp.ofproto_parser, dp.ofproto
        dp.send_msg(parser.OFPBarrierRequest(dp))
        # Back through the tables, where the new flow now routes it.
        dp.send_msg(
            parser.OFPPacketOut(
                dp,
                buffer_id=ofp.OFP_NO_BUFFER,
                in_port=in_port,
                actions=[parser.OFPActionOutput(ofp.OFPP_TABLE)],
                data=data,
            )
        )
        if not OPTIONS.quiet:
            report(decision="routed", src=src_ip, dst=dst_ip)


def main():
    ap = argparse.ArgumentParser(description="os-ken reactive L3 app for wyvern's DVR topology")
    ap.add_argument("port")
    ap.add_argument("host", nargs="?", default="127.0.0.1")
    ap.add_argument("--config", required=True, help="the switch's configuration (TOML)")
    ap.add_argument("--chassis", help="this switch's chassis (default: the first)")
    ap.add_argument("--quiet", action="store_true", help="no line per decision")
    a = ap.parse_args()
    OPTIONS.config, OPTIONS.chassis, OPTIONS.quiet = a.config, a.chassis, a.quiet
    # os-ken imports the app by module name: let that be this module, options and all.
    sys.modules.setdefault("osken_l3", sys.modules[__name__])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from osken_serve import serve  # noqa: E402

    serve("osken_l3", "osken_l3", a.port, a.host)


if __name__ == "__main__":
    main()

"""An os-ken 4.x app doing the reactive L3 job of the Dragonflow blog for `wyvern lab`.

Usage: python osken_l3.py PORT [HOST]

Listens on HOST:PORT (HOST 127.0.0.1 by default) for a wyvern node started with `builtin_controller = false`. The
topology is the lab's (one node): on a packet-in from the east-west table (52) it installs one
flow per direction at priority 100 — match metadata, in_port, dl_src, dl_dst, nw_src, nw_dst;
actions dec_ttl, eth_src := the router's MAC on the destination network, eth_dst := the
destination's MAC, output — then sends the packet back through the tables (packet-out to
OFPP_TABLE) so the first packet is not lost. Prints `READY` once listening, a JSON line when a
switch connects (`connected`) and one per decision (`routed`, `ignored`).
"""

import json
import os
import sys

from os_ken.lib import hub

hub.patch(thread=False)

from os_ken import cfg  # noqa: E402
from os_ken.base import app_manager  # noqa: E402
from os_ken.controller import ofp_event  # noqa: E402
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls  # noqa: E402
from os_ken.lib.packet import ethernet, ipv4, packet  # noqa: E402
from os_ken.ofproto import ofproto_v1_3  # noqa: E402

# network segmentation id -> router interface MAC on it
ROUTER_MAC = {0x1F42: "fa:16:3e:c0:8d:8b", 0x1F43: "fa:16:3e:c5:02:4d"}
# IP -> (segmentation id, MAC, ofport)
PORTS = {
    "10.1.0.5": (0x1F42, "fa:16:3e:00:17:e6", 11),
    "10.2.0.5": (0x1F43, "fa:16:3e:cf:4b:ed", 12),
    "10.1.0.6": (0x1F42, "fa:16:3e:00:17:e7", 13),
}
EAST_WEST = 52


def report(**kw):
    print(json.dumps(kw), flush=True)


class L3(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def flow(self, dp, src_ip, dst_ip):
        """The flow for traffic from src_ip to dst_ip."""
        parser = dp.ofproto_parser
        seg, src_mac, in_port = PORTS[src_ip]
        dseg, dst_mac, out_port = PORTS[dst_ip]
        match = parser.OFPMatch(
            metadata=seg,
            in_port=in_port,
            eth_src=src_mac,
            eth_dst=ROUTER_MAC[seg],
            eth_type=0x0800,
            ipv4_src=src_ip,
            ipv4_dst=dst_ip,
        )
        actions = [
            parser.OFPActionDecNwTtl(),
            parser.OFPActionSetField(eth_src=ROUTER_MAC[dseg]),
            parser.OFPActionSetField(eth_dst=dst_mac),
            parser.OFPActionOutput(out_port),
        ]
        inst = [parser.OFPInstructionActions(dp.ofproto.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(
            parser.OFPFlowMod(
                dp,
                table_id=EAST_WEST,
                priority=100,
                idle_timeout=300,
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
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        ip = packet.Packet(msg.data).get_protocol(ipv4.ipv4)
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if msg.table_id != EAST_WEST or ip is None or eth is None:
            report(decision="ignored", table=msg.table_id)
            return
        if ip.src not in PORTS or ip.dst not in PORTS:
            report(decision="ignored", src=ip.src, dst=ip.dst)
            return
        self.flow(dp, ip.src, ip.dst)
        self.flow(dp, ip.dst, ip.src)
        dp.send_msg(parser.OFPBarrierRequest(dp))
        # Back through the tables, where the new flow now routes it.
        dp.send_msg(
            parser.OFPPacketOut(
                dp,
                buffer_id=ofp.OFP_NO_BUFFER,
                in_port=msg.match["in_port"],
                actions=[parser.OFPActionOutput(ofp.OFPP_TABLE)],
                data=msg.data,
            )
        )
        report(decision="routed", src=ip.src, dst=ip.dst)


def main():
    port = sys.argv[1]
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    cfg.CONF(args=["--ofp-tcp-listen-port", port, "--ofp-listen-host", host],
             project="os_ken")
    mgr = app_manager.AppManager.get_instance()
    mgr.load_apps([__name__ if __name__ != "__main__" else "osken_l3"])
    services = mgr.instantiate_apps(**mgr.create_contexts())
    print("READY", flush=True)
    hub.joinall(services)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()

"""An os-ken 4.x controller that exercises a switch and reports what happened.

Usage: python osken_peer.py PORT

Listens on 127.0.0.1:PORT. When a switch connects it asks for features and port
descriptions, installs flows, sends echo and barrier requests, makes a packet-out through
the tables come back as a packet-in, changes roles (master, then slave: a flow mod must
then fail with OFPBRC_IS_SLAVE), and prints one JSON object per check on stdout, then
`DONE` and exits. os-ken has no `os_ken.cmd` module, so AppManager is driven directly.
"""

import json
import os
import sys

from os_ken.lib import hub

hub.patch(thread=False)

from os_ken.base import app_manager  # noqa: E402
from os_ken.controller import ofp_event  # noqa: E402
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls  # noqa: E402
from os_ken.ofproto import ofproto_v1_3  # noqa: E402
from os_ken.lib.packet import arp, ethernet, packet  # noqa: E402


def report(**kw):
    print(json.dumps(kw), flush=True)


def finish():
    print("DONE", flush=True)
    os._exit(0)


class Peer(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.dp = None
        self.got_packet_in = False
        self.started = False
        hub.spawn(self.watchdog)

    def watchdog(self):
        hub.sleep(25)
        report(check="timeout")
        finish()

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev):
        dp = ev.msg.datapath
        self.dp = dp
        report(check="features", dpid=ev.msg.datapath_id, n_tables=ev.msg.n_tables)
        parser = dp.ofproto_parser
        dp.send_msg(parser.OFPPortDescStatsRequest(dp, 0))

    @set_ev_cls(ofp_event.EventOFPPortDescStatsReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def port_desc(self, ev):
        # os-ken's own handshake asks for port descriptions too; run the script once.
        if self.started:
            return
        self.started = True
        report(check="port_desc", ports=len(ev.msg.body))
        hub.spawn(self.script)

    def script(self):
        dp = self.dp
        ofp = dp.ofproto
        parser = dp.ofproto_parser
        # The flow os-ken apps install first: table-miss to the controller, with out_port=0.
        dp.send_msg(parser.OFPFlowMod(
            dp, priority=0, match=parser.OFPMatch(),
            instructions=[parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS,
                [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])]))
        dp.send_msg(parser.OFPFlowMod(
            dp, table_id=0, priority=100, match=parser.OFPMatch(eth_type=0x0806),
            instructions=[
                parser.OFPInstructionWriteMetadata(0x1F42, 0xFFFF),
                parser.OFPInstructionGotoTable(52)]))
        dp.send_msg(parser.OFPFlowMod(
            dp, table_id=52, priority=10, match=parser.OFPMatch(),
            instructions=[parser.OFPInstructionActions(
                ofp.OFPIT_APPLY_ACTIONS,
                [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])]))
        dp.send_msg(parser.OFPBarrierRequest(dp))
        dp.send_msg(parser.OFPEchoRequest(dp, data=b"wyvern"))
        dp.send_msg(parser.OFPFlowStatsRequest(dp, table_id=ofp.OFPTT_ALL))
        dp.send_msg(parser.OFPRoleRequest(dp, ofp.OFPCR_ROLE_MASTER, 1))
        pkt = packet.Packet()
        pkt.add_protocol(ethernet.ethernet(
            dst="ff:ff:ff:ff:ff:ff", src="fa:16:3e:00:17:e6", ethertype=0x0806))
        pkt.add_protocol(arp.arp(
            opcode=1, src_mac="fa:16:3e:00:17:e6", src_ip="10.1.0.5",
            dst_mac="00:00:00:00:00:00", dst_ip="10.1.0.1"))
        pkt.serialize()
        self.frame = bytes(pkt.data)
        dp.send_msg(parser.OFPPacketOut(
            dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=6,
            actions=[parser.OFPActionOutput(ofp.OFPP_TABLE)], data=self.frame))

    @set_ev_cls(ofp_event.EventOFPBarrierReply, MAIN_DISPATCHER)
    def barrier(self, ev):
        report(check="barrier")

    @set_ev_cls(ofp_event.EventOFPEchoReply, MAIN_DISPATCHER)
    def echo(self, ev):
        report(check="echo", data=ev.msg.data.decode())

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flows(self, ev):
        report(check="flows", flows=sorted(
            [s.table_id, s.priority] for s in ev.msg.body))

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev):
        m = ev.msg
        # Only the packet this peer sent: the switch's LOCAL port may send its own (the
        # host's IPv6 chatter hits the table-miss flow installed above).
        if self.got_packet_in or bytes(m.data) != self.frame:
            return
        self.got_packet_in = True
        report(check="packet_in", reason=m.reason, table=m.table_id,
               in_port=m.match["in_port"], metadata=m.match.get("metadata"),
               same=bytes(m.data) == self.frame, buffer_id=m.buffer_id)
        dp = self.dp
        dp.send_msg(dp.ofproto_parser.OFPRoleRequest(
            dp, dp.ofproto.OFPCR_ROLE_SLAVE, 2))

    @set_ev_cls(ofp_event.EventOFPRoleReply, MAIN_DISPATCHER)
    def role(self, ev):
        dp = self.dp
        ofp = dp.ofproto
        report(check="role", role=ev.msg.role, generation_id=ev.msg.generation_id)
        if ev.msg.role == ofp.OFPCR_ROLE_SLAVE:
            parser = dp.ofproto_parser
            dp.send_msg(parser.OFPFlowMod(
                dp, table_id=1, priority=1, match=parser.OFPMatch(), instructions=[]))

    @set_ev_cls(ofp_event.EventOFPErrorMsg, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def error(self, ev):
        report(check="error", type=ev.msg.type, code=ev.msg.code)
        if ev.msg.type == 1 and ev.msg.code == 10:
            finish()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from osken_serve import serve  # noqa: E402

    serve(__name__, "osken_peer", sys.argv[1])

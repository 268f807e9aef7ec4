use std::path::Path;

use wyvern_pipeline::dvr::compile::L3Mode;
use wyvern_pipeline::dvr::topology::PortType;

use super::*;

fn p(text: &str) -> Result<Config, ConfigError> {
    parse(Path::new("wyvern.toml"), text)
}

const BLOG: &str = include_str!("../../../examples/blog-lab.toml");

#[test]
fn a_full_configuration() {
    let c = p(r#"
bridge = "br-int"
dpid = "0x42fbf384884c"
fail_mode = "standalone"
listen = ["ptcp:6653:127.0.0.1", "punix:/tmp/x.sock"]
controllers = ["tcp:127.0.0.1:6633"]
workers = 2
busy_poll = true
local_port = false

[[port]]
name = "p6"
type = "afxdp"
interface = "eth1"
ofport = 6
options = { mode = "generic" }

[[port]]
name = "tun3"
type = "vxlan"
options = { local_ip = "192.168.0.1", remote_ip = "flow", key = "flow", dst_port = 4789 }
"#)
    .unwrap();
    assert_eq!(c.bridge.as_deref(), Some("br-int"));
    assert_eq!(c.dpid, Some(0x42fb_f384_884c));
    assert_eq!(c.fail_mode, Some(FailMode::Standalone));
    assert_eq!(c.listen.len(), 2);
    assert_eq!(c.controllers.len(), 1);
    assert_eq!(
        (c.workers, c.busy_poll, c.local_port),
        (Some(2), Some(true), Some(false))
    );
    assert_eq!(c.ports.len(), 2);
    assert_eq!(c.ports[0].ofport, Some(6));
    assert_eq!(c.ports[0].line, 12);
    assert_eq!(c.ports[1].kind, PortKind::Vxlan);
    assert_eq!(c.ports[1].ofport, None, "assigned when opened");
    assert_eq!(c.ports[1].options["dst_port"], "4789");
    assert!(c.dvr.is_none());
    assert_eq!(p("").unwrap().ports, vec![]);
}

fn err(text: &str) -> (usize, String) {
    let e = p(text).unwrap_err();
    assert_eq!(e.file, Path::new("wyvern.toml"));
    (e.line, e.message)
}

#[test]
fn errors_name_the_line_and_what_to_change() {
    let (line, m) = err("bridge = \"br0\"\nlisten = [\"tcp:1.2.3.4:5\"]\n");
    assert_eq!(line, 2);
    assert!(m.contains("use ptcp: or punix:"), "{m}");

    let (line, m) = err("\n\nfail_mode = \"open\"\n");
    assert_eq!(line, 3);
    assert!(m.contains("secure or standalone"), "{m}");

    let (line, m) = err("dpid = \"xyz\"");
    assert_eq!(line, 1);
    assert!(m.contains("hexadecimal"), "{m}");

    let (line, m) = err(
        "[[port]]\nname = \"a\"\ntype = \"tap\"\nofport = 1\n\n[[port]]\nname = \"b\"\ntype = \"tap\"\nofport = 1\n",
    );
    assert_eq!(line, 9);
    assert!(m.contains("already used by port \"a\" (line 4)"), "{m}");

    let (line, m) = err("[[port]]\nname = \"a\"\ntype = \"veth\"\nofport = 1\n");
    assert_eq!(line, 3);
    assert!(m.contains("afxdp, tap, vxlan"), "{m}");

    let (line, m) = err("[[port]]\nname = \"a\"\ntype = \"afxdp\"\nofport = 1\n");
    assert_eq!(line, 2);
    assert!(m.contains("interface"), "{m}");

    let (line, m) =
        err("[[port]]\nname = \"t\"\ntype = \"vxlan\"\nofport = 2\noptions = { key = \"5\" }\n");
    assert_eq!(line, 5);
    assert!(m.contains("flow-based"), "{m}");

    let (_, m) = err("[[port]]\nname = \"t\"\ntype = \"vxlan\"\n");
    assert!(m.contains("local_ip"), "{m}");

    let (_, m) = err("[[port]]\nname = \"a\"\ntype = \"tap\"\nofport = 0\n");
    assert!(m.contains("from 1 to"), "{m}");

    let (_, m) = err(
        "[[port]]\nname = \"a\"\ntype = \"afxdp\"\ninterface = \"e\"\noptions = { mode = \"fast\" }\n",
    );
    assert!(m.contains("native, generic or auto"), "{m}");

    let (_, m) = err(
        "[[port]]\nname = \"a\"\ntype = \"afxdp\"\ninterface = \"e\"\noptions = { queues = 0 }\n",
    );
    assert!(
        m.contains("queues \"0\"") && m.contains("from 1 to 64"),
        "{m}"
    );
    let ok = p(
        "[[port]]\nname = \"a\"\ntype = \"afxdp\"\ninterface = \"e\"\noptions = { queues = 2 }\n",
    );
    assert_eq!(ok.unwrap().ports[0].options["queues"], "2");

    let (_, m) = err("[[port]]\nname = \"t\"\ntype = \"tap\"\noptions = { offload = \"yes\" }\n");
    assert!(
        m.contains("offload \"yes\"") && m.contains("true or false"),
        "{m}"
    );
    let ok = p("[[port]]\nname = \"t\"\ntype = \"tap\"\noptions = { offload = false }\n");
    assert_eq!(ok.unwrap().ports[0].options["offload"], "false");

    let (line, m) = err("\nworkers = 0\n");
    assert_eq!(line, 2);
    assert!(m.contains("1 to 64"), "{m}");

    let (line, m) = err("bridge = \"br0\"\ncolour = \"red\"\n");
    assert_eq!(line, 2);
    assert!(m.contains("colour"), "{m}");

    let (line, _) = err("bridge = \"br0\"\nlisten = [\n");
    assert!(line >= 2);
}

#[test]
fn the_blog_topology_is_a_configuration() {
    let c = p(BLOG).unwrap();
    assert!(c.ports.is_empty(), "VM ports are not datapath ports");
    let dvr = c.dvr.unwrap();
    assert_eq!(dvr.l3_mode, L3Mode::Reactive);
    assert!(dvr.builtin_controller);
    assert_eq!(dvr.l3.idle_timeout, 300);
    assert_eq!(dvr.topology.ports.len(), 2);
    let local = dvr.for_chassis(None).unwrap();
    assert_eq!(local.chassis, "node1");
    assert!(!local.multi_node);
    assert_eq!(local.ports[0].interface.as_deref(), Some("vm1-br"));
    assert_eq!(local.ports[0].ofport, Some(11));
}

#[test]
fn l3_settings_and_tap_defaults() {
    let text = BLOG.replace("type = \"afxdp\"", "type = \"tap\"").replace(
        "[[chassis]]",
        "l3_mode = \"proactive\"\nbuiltin_controller = false\nl3_idle_timeout = 30\nl3_hard_timeout = 600\n\n[[chassis]]",
    );
    let text = text.replace("interface = \"vm2-br\"\n", "");
    let dvr = p(&text).unwrap().dvr.unwrap();
    assert_eq!(dvr.l3_mode, L3Mode::Proactive);
    assert!(!dvr.builtin_controller);
    assert_eq!((dvr.l3.idle_timeout, dvr.l3.hard_timeout), (30, 600));
    let local = dvr.for_chassis(Some("node1")).unwrap();
    assert_eq!(local.ports[1].kind, Some(PortType::Tap));
    assert_eq!(local.ports[1].interface.as_deref(), Some("vm2"));
}

#[test]
fn dvr_errors_say_what_to_change() {
    let (line, m) = err("l3_mode = \"proactive\"\n");
    assert_eq!(line, 1);
    assert!(m.contains("need a topology"), "{m}");

    let (line, m) = err(&BLOG
        .replace("l3", "")
        .replace("[[chassis]]", "l3_mode = \"eager\"\n[[chassis]]"));
    assert_eq!(line, 2);
    assert!(m.contains("reactive or proactive"), "{m}");

    let (line, m) = err(&BLOG.replace("mac = \"fa:16:3e:00:17:e6\"\n", ""));
    assert!(line > 0);
    assert!(m.contains("needs `mac`"), "{m}");

    // Found once the chassis is known: a local port without a type, with its line.
    let text = BLOG.replacen("type = \"afxdp\"\n", "", 1);
    let dvr = p(&text).unwrap().dvr.unwrap();
    let e = dvr.for_chassis(None).unwrap_err();
    assert_eq!(
        e.line,
        text.lines().position(|l| l == "name = \"vm1\"").unwrap() + 1
    );
    assert!(e.message.contains("has no type"), "{e}");

    // Topology validation names the objects.
    let text = BLOG.replace("ips = [\"10.2.0.5\"]", "ips = [\"10.9.0.5\"]");
    let e = p(&text)
        .unwrap()
        .dvr
        .unwrap()
        .for_chassis(None)
        .unwrap_err();
    assert_eq!(e.line, 0);
    assert!(
        e.to_string()
            .starts_with("wyvern.toml: port \"vm2\": 10.9.0.5 is outside"),
        "{e}"
    );

    // Several chassis and no --chassis.
    let text = format!("{BLOG}\n[[chassis]]\nname = \"node2\"\nvtep = \"192.168.50.2\"\n");
    let dvr = p(&text).unwrap().dvr.unwrap();
    let e = dvr.for_chassis(None).unwrap_err();
    assert!(e.message.contains("--chassis"), "{e}");
    assert!(dvr.for_chassis(Some("node2")).unwrap().multi_node);
    let e = dvr.for_chassis(Some("node7")).unwrap_err();
    assert!(e.message.contains("no such chassis"), "{e}");

    let (_, m) = err("[[port]]\nname = \"a\"\ntype = \"tap\"\nmac = \"fa:16:3e:00:00:01\"\n");
    assert!(m.contains("belongs to VM ports"), "{m}");
}

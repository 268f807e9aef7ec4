//! The verbs that need no switch: `ofp-print`, and the argument and connection errors.

use std::process::{Command, Output};

fn wyvern(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wyvern"))
        .args(args)
        .output()
        .expect("run wyvern")
}

/// 03_f07 of `shared/notes/ofctl-wire.md` §4, as ovs-ofctl sent it.
const F07: &str = "040e00e000000006 0000000000000000 0000000000000000 3300000000000064 \
ffffffffffffffff ffffffff00000000 0001002480000a02 080680002a020001 \
80002e040a010001 8000040800000000 00001f4200000000 0004008800000000 \
0019001080002a02 0002000000000000 ffff001800002320 0006003000000000 \
0001220600012406 ffff001800002320 0006002000000000 0000200400002204 \
0019001080000806 fa163ec08d8b0000 0019001080003006 fa163ec08d8b0000 \
0019001080002c04 0a01000100000000 00000010fffffff8 0000000000000000";

const F07_TEXT: &str = "OFPT_FLOW_MOD (OF1.3) (xid=0x6): ADD table:51 priority=100,arp,metadata=0x1f42,arp_tpa=10.1.0.1,arp_op=1 actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:c0:8d:8b->eth_src,set_field:fa:16:3e:c0:8d:8b->arp_sha,set_field:10.1.0.1->arp_spa,IN_PORT\n";

#[test]
fn ofctl_ofp_print_decodes_hex_and_files() {
    let out = wyvern(&["ofp-print", F07]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), F07_TEXT);
    // Without spaces, and two messages in one binary file.
    let hex: String = F07.split_whitespace().collect();
    let out = wyvern(&["ofp-print", &hex]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), F07_TEXT);
    let mut bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    bytes.extend_from_slice(&[4, 20, 0, 8, 0, 0, 0, 7]);
    let path = std::env::temp_dir().join(format!("wyvern-ofp-print-{}.bin", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let out = wyvern(&["ofp-print", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{F07_TEXT}OFPT_BARRIER_REQUEST (OF1.3) (xid=0x7):\n")
    );
}

#[test]
fn ofctl_usage_and_connection_errors_name_the_target() {
    let out = wyvern(&["show", "unix:/nonexistent/wyvern.mgmt"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("wyvern: unix:/nonexistent/wyvern.mgmt: connection failed"),
    );
    let out = wyvern(&["dump-flows", "--bridge", "nonexistent0", "table=0"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("wyvern: unix:/run/wyvern/nonexistent0.mgmt: connection failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wyvern(&[
        "add-flow",
        "tcp:127.0.0.1:1",
        "table=0,bogus=1,actions=drop",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
    let out = wyvern(&["show", "ssl:1.2.3.4:6653"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a connection string"));
}

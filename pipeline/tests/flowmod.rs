//! Flow-table changes through the control API, as OpenFlow 1.3 §6.4 defines them.

use std::sync::Arc;

use wyvern_pipeline::action::{Action, Instruction, PortNo};
use wyvern_pipeline::field::Field;
use wyvern_pipeline::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec};
use wyvern_pipeline::flow_match::Match;
use wyvern_pipeline::{
    BatchError, FlowFilter, FlowModError, Pipeline, PipelineConfig, RemovedReason,
};

fn spec(table: u8, priority: u16, m: Match, port: u32) -> FlowSpec {
    FlowSpec {
        table,
        priority,
        matching: m,
        instructions: vec![Instruction::ApplyActions(vec![Action::output(port)])],
        ..FlowSpec::default()
    }
}

fn in_port(p: u128) -> Match {
    Match::new().exact(Field::InPort, p).unwrap()
}

fn cmd(command: FlowModCommand, spec: FlowSpec) -> FlowMod {
    FlowMod {
        command,
        spec,
        cookie_mask: 0,
        out_port: PortNo::ANY,
    }
}

fn all(p: &Pipeline) -> Vec<FlowSpec> {
    p.dump_flows(&FlowFilter::default())
        .into_iter()
        .map(|f| f.spec)
        .collect()
}

fn pipeline() -> Arc<Pipeline> {
    Pipeline::new(PipelineConfig::default())
}

#[test]
fn add_replaces_identical_match_and_priority() {
    let p = pipeline();
    p.apply(&[FlowMod::add(spec(0, 10, in_port(1), 2))])
        .unwrap();
    p.apply(&[FlowMod::add(spec(0, 10, in_port(1), 3))])
        .unwrap();
    p.apply(&[FlowMod::add(spec(0, 11, in_port(1), 4))])
        .unwrap();
    let flows = all(&p);
    assert_eq!(flows.len(), 2);
    assert_eq!(flows[0].priority, 11, "priority descending");
    assert_eq!(
        flows[1].instructions,
        spec(0, 10, in_port(1), 3).instructions
    );
}

#[test]
fn check_overlap_refuses_same_priority_overlap() {
    let p = pipeline();
    p.apply(&[FlowMod::add(spec(0, 10, in_port(1), 2))])
        .unwrap();
    let mut s = spec(0, 10, Match::new().exact(Field::Metadata, 5).unwrap(), 3);
    s.flags = FlowFlags(FlowFlags::CHECK_OVERLAP);
    let err = p.apply(&[FlowMod::add(s.clone())]).unwrap_err();
    assert_eq!(err.error, FlowModError::Overlap(10));
    s.priority = 11;
    p.apply(&[FlowMod::add(s)]).unwrap();
}

#[test]
fn check_overlap_does_not_stop_replacing_an_identical_flow() {
    // As Open vSwitch: the overlap check is for new flows; an add with the same match and
    // priority replaces the flow (here while another flow overlaps it as well).
    let p = pipeline();
    let md = Match::new().exact(Field::Metadata, 5).unwrap();
    p.apply(&[
        FlowMod::add(spec(0, 10, md.clone(), 2)),
        FlowMod::add(spec(0, 10, in_port(1), 2)),
    ])
    .unwrap();
    let mut s = spec(0, 10, md, 3);
    s.flags = FlowFlags(FlowFlags::CHECK_OVERLAP);
    p.apply(&[FlowMod::add(s.clone())]).unwrap();
    let flows = all(&p);
    assert_eq!(flows.len(), 2);
    assert!(flows.contains(&s), "{flows:?}");
}

#[test]
fn modify_non_strict_selects_more_specific_flows_and_keeps_counters_identity() {
    let p = pipeline();
    let md = |v| Match::new().exact(Field::Metadata, v).unwrap();
    let narrow = md(7).exact(Field::InPort, 1).unwrap();
    p.apply(&[
        FlowMod::add(spec(60, 10, md(7), 2)),
        FlowMod::add(spec(60, 20, narrow, 2)),
        FlowMod::add(spec(60, 1, Match::new(), 2)),
    ])
    .unwrap();
    p.apply(&[cmd(FlowModCommand::Modify, spec(60, 0x8000, md(7), 6))])
        .unwrap();
    let changed: Vec<u16> = all(&p)
        .iter()
        .filter(|f| f.instructions == spec(0, 0, Match::new(), 6).instructions)
        .map(|f| f.priority)
        .collect();
    assert_eq!(
        changed,
        vec![20, 10],
        "both flows covered by metadata=7, not the catch-all"
    );

    p.apply(&[cmd(
        FlowModCommand::ModifyStrict,
        spec(60, 1, Match::new(), 9),
    )])
    .unwrap();
    assert_eq!(
        all(&p).last().unwrap().instructions,
        spec(0, 0, Match::new(), 9).instructions
    );
}

#[test]
fn delete_by_cookie_mask_table_and_out_port() {
    let p = pipeline();
    let mut a = spec(52, 100, in_port(1), 11);
    a.cookie = 0x1008000000019;
    a.flags = FlowFlags(FlowFlags::SEND_FLOW_REM);
    let mut b = spec(52, 100, in_port(2), 12);
    b.cookie = 0x1008000040051;
    let c = spec(40, 1, Match::new(), 12);
    p.apply(&[FlowMod::add(a), FlowMod::add(b), FlowMod::add(c)])
        .unwrap();

    let mut del = cmd(
        FlowModCommand::Delete,
        FlowSpec {
            table: 52,
            cookie: 0x1008000000019,
            ..FlowSpec::default()
        },
    );
    del.cookie_mask = u64::MAX;
    let removed = p.apply(&[del]).unwrap();
    assert_eq!(removed.len(), 1);
    assert_eq!(removed[0].reason, RemovedReason::Delete);
    assert_eq!(all(&p).len(), 2);

    let mut by_port = cmd(
        FlowModCommand::Delete,
        FlowSpec {
            table: 0xff,
            ..FlowSpec::default()
        },
    );
    by_port.out_port = PortNo(12);
    p.apply(&[by_port]).unwrap();
    assert!(all(&p).is_empty(), "out_port=12 across all tables");
}

#[test]
fn delete_strict_needs_exact_match_and_priority() {
    let p = pipeline();
    p.apply(&[FlowMod::add(spec(0, 10, in_port(1), 2))])
        .unwrap();
    p.apply(&[cmd(
        FlowModCommand::DeleteStrict,
        spec(0, 11, in_port(1), 0),
    )])
    .unwrap();
    assert_eq!(all(&p).len(), 1);
    p.apply(&[cmd(
        FlowModCommand::DeleteStrict,
        spec(0, 10, Match::new(), 0),
    )])
    .unwrap();
    assert_eq!(all(&p).len(), 1);
    p.apply(&[cmd(
        FlowModCommand::DeleteStrict,
        spec(0, 10, in_port(1), 0),
    )])
    .unwrap();
    assert!(all(&p).is_empty());
}

#[test]
fn a_failing_batch_changes_nothing() {
    let p = pipeline();
    let bad = spec(40, 1, Match::new(), 2);
    let mut bad = FlowMod::add(bad);
    bad.spec.instructions.push(Instruction::GotoTable(10));
    let err = p
        .apply(&[FlowMod::add(spec(0, 1, Match::new(), 2)), bad])
        .unwrap_err();
    assert_eq!(err.index, 1);
    assert!(matches!(err.error, FlowModError::BadInstructions(_)));
    assert!(all(&p).is_empty(), "the first add was not applied either");
}

#[test]
fn add_then_delete_in_one_batch_sees_its_own_changes() {
    let p = pipeline();
    p.apply(&[
        FlowMod::add(spec(0, 10, in_port(1), 2)),
        cmd(FlowModCommand::DeleteStrict, spec(0, 10, in_port(1), 0)),
        FlowMod::add(spec(0, 10, in_port(3), 2)),
    ])
    .unwrap();
    let flows = all(&p);
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].matching, in_port(3));
}

#[test]
fn table_full_is_reported() {
    let mut config = PipelineConfig::default();
    config.limits.max_flows_per_table = 2;
    let p = Pipeline::new(config);
    p.apply(&[
        FlowMod::add(spec(0, 1, in_port(1), 2)),
        FlowMod::add(spec(0, 1, in_port(2), 2)),
    ])
    .unwrap();
    let err = p
        .apply(&[FlowMod::add(spec(0, 1, in_port(3), 2))])
        .unwrap_err();
    assert_eq!(err.error, FlowModError::TableFull { table: 0, limit: 2 });
    // Replacing an existing flow does not need room.
    p.apply(&[FlowMod::add(spec(0, 1, in_port(2), 5))]).unwrap();
}

#[test]
fn bad_table_and_match_are_errors() {
    let p = pipeline();
    let err = p
        .apply(&[FlowMod::add(spec(255, 1, Match::new(), 2))])
        .unwrap_err();
    assert_eq!(err.error, FlowModError::BadTable(255));
    let m = Match::new().exact(Field::ArpTpa, 1).unwrap();
    let err = p.apply(&[FlowMod::add(spec(0, 1, m, 2))]).unwrap_err();
    assert!(matches!(err.error, FlowModError::BadMatch(_)));
}

#[test]
fn hard_timeout_expires_and_reports() {
    let p = pipeline();
    let mut s = spec(52, 100, in_port(1), 2);
    s.hard_timeout = 1;
    s.flags = FlowFlags(FlowFlags::SEND_FLOW_REM);
    p.apply(&[FlowMod::add(s)]).unwrap();
    assert!(p.expire().is_empty());
    std::thread::sleep(std::time::Duration::from_millis(1050));
    let gone = p.expire();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].reason, RemovedReason::HardTimeout);
    assert!(all(&p).is_empty());
}

/// `ip,metadata=M,in_port=P` with the fields in the order given.
fn md_port(order_md_first: bool, md: u128, port: u128) -> Match {
    let m = Match::new().exact(Field::EthType, 0x0800).unwrap();
    if order_md_first {
        m.exact(Field::Metadata, md)
            .and_then(|m| m.exact(Field::InPort, port))
    } else {
        m.exact(Field::InPort, port)
            .and_then(|m| m.exact(Field::Metadata, md))
    }
    .unwrap()
}

#[test]
fn strict_commands_and_replacing_adds_ignore_field_order() {
    let p = pipeline();
    // Published, then a strict modify and a replacing add written in the other order.
    p.apply(&[FlowMod::add(spec(52, 100, md_port(true, 7, 1), 2))])
        .unwrap();
    p.apply(&[cmd(
        FlowModCommand::ModifyStrict,
        spec(52, 100, md_port(false, 7, 1), 3),
    )])
    .unwrap();
    assert_eq!(all(&p).len(), 1);
    assert_eq!(
        all(&p)[0].instructions,
        spec(0, 0, Match::new(), 3).instructions
    );
    assert_eq!(
        all(&p)[0].matching,
        md_port(true, 7, 1),
        "kept as installed"
    );
    p.apply(&[FlowMod::add(spec(52, 100, md_port(false, 7, 1), 4))])
        .unwrap();
    assert_eq!(all(&p).len(), 1, "the add replaced the flow");
    assert_eq!(all(&p)[0].matching, md_port(false, 7, 1));
    p.apply(&[cmd(
        FlowModCommand::DeleteStrict,
        spec(52, 100, md_port(true, 7, 1), 0),
    )])
    .unwrap();
    assert!(all(&p).is_empty());

    // Staged in one batch: an add in the other order replaces the batch's own add.
    p.apply(&[
        FlowMod::add(spec(52, 100, md_port(true, 8, 1), 2)),
        FlowMod::add(spec(52, 100, md_port(false, 8, 1), 3)),
    ])
    .unwrap();
    let flows = all(&p);
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!(
        flows[0].instructions,
        spec(0, 0, Match::new(), 3).instructions
    );

    // And a strict delete in the first order finds the flow the batch added in the other.
    p.apply(&[
        FlowMod::add(spec(52, 100, md_port(false, 9, 1), 2)),
        cmd(
            FlowModCommand::DeleteStrict,
            spec(52, 100, md_port(true, 9, 1), 0),
        ),
    ])
    .unwrap();
    assert_eq!(all(&p).len(), 1);
}

#[test]
fn strict_commands_filter_by_cookie_out_port_and_table() {
    let p = pipeline();
    let mut a = spec(52, 100, in_port(1), 11);
    a.cookie = 0x10;
    let mut b = spec(53, 100, in_port(1), 12);
    b.cookie = 0x20;
    p.apply(&[FlowMod::add(a), FlowMod::add(b)]).unwrap();
    let strict_delete = |table, cookie, cookie_mask, out_port| {
        let mut d = cmd(
            FlowModCommand::DeleteStrict,
            FlowSpec {
                table,
                cookie,
                ..spec(0, 100, in_port(1), 0)
            },
        );
        d.cookie_mask = cookie_mask;
        d.out_port = PortNo(out_port);
        p.apply(&[d]).unwrap();
        all(&p).iter().map(|f| f.table).collect::<Vec<_>>()
    };
    assert_eq!(strict_delete(0xff, 0x30, 0xff, PortNo::ANY.0), vec![52, 53]);
    assert_eq!(
        strict_delete(0xff, 0, 0, 13),
        vec![52, 53],
        "no flow outputs to 13"
    );
    assert_eq!(strict_delete(52, 0x20, 0xff, PortNo::ANY.0), vec![52, 53]);
    assert_eq!(strict_delete(0xff, 0x20, 0xff, PortNo::ANY.0), vec![52]);
    assert_eq!(strict_delete(0xff, 0, 0, 11), Vec::<u8>::new());

    // A strict modify keeps the cookie filter (and ignores out_port).
    p.apply(&[FlowMod::add(spec(52, 100, in_port(1), 11))])
        .unwrap();
    let mut m = cmd(FlowModCommand::ModifyStrict, spec(52, 100, in_port(1), 14));
    m.spec.cookie = 1;
    m.cookie_mask = 1;
    p.apply(&[m.clone()]).unwrap();
    assert_eq!(
        all(&p)[0].instructions,
        spec(0, 0, Match::new(), 11).instructions
    );
    m.spec.cookie = 0;
    m.out_port = PortNo(99);
    p.apply(&[m]).unwrap();
    assert_eq!(
        all(&p)[0].instructions,
        spec(0, 0, Match::new(), 14).instructions
    );
}

#[test]
fn only_the_tables_the_pipeline_has_take_flows() {
    use wyvern_pipeline::action::N_TABLES;
    let p = pipeline();
    let last = N_TABLES - 1;
    p.apply(&[FlowMod::add(spec(last, 1, Match::new(), 2))])
        .unwrap();
    let err = p
        .apply(&[FlowMod::add(spec(N_TABLES, 1, Match::new(), 2))])
        .unwrap_err();
    assert_eq!(err.error, FlowModError::BadTable(N_TABLES));
    let mut goto = spec(last - 1, 1, Match::new(), 2);
    goto.instructions = vec![Instruction::GotoTable(N_TABLES)];
    let err = p.apply(&[FlowMod::add(goto)]).unwrap_err();
    assert!(
        matches!(err.error, FlowModError::BadInstructions(_)),
        "{err}"
    );
    let mut resubmit = spec(0, 1, Match::new(), 2);
    resubmit.instructions = vec![Instruction::ApplyActions(vec![Action::Resubmit {
        in_port: None,
        table: Some(N_TABLES),
    }])];
    let err = p.apply(&[FlowMod::add(resubmit)]).unwrap_err();
    assert!(
        matches!(err.error, FlowModError::BadInstructions(_)),
        "{err}"
    );
    assert_eq!(p.table_stats().len(), usize::from(N_TABLES));
    assert_eq!(p.table_stats()[usize::from(last)].active, 1);
}

#[test]
fn aggregate_sums_the_counters_of_the_selected_flows() {
    use wyvern_pipeline::wire::Frame;
    use wyvern_pipeline::{PacketMeta, RxPacket, Verdicts};
    let p = pipeline();
    let mut a = spec(0, 10, in_port(1), 2);
    a.cookie = 1;
    let mut b = spec(0, 10, in_port(2), 3);
    b.cookie = 2;
    p.apply(&[
        FlowMod::add(a),
        FlowMod::add(b),
        FlowMod::add(spec(5, 1, Match::new(), 2)),
    ])
    .unwrap();
    let mut w = p.worker();
    // 3 frames of 60 bytes on port 1, 1 of 100 bytes on port 2.
    for (port, len) in [(1, 60), (1, 60), (2, 100), (1, 60)] {
        let mut buf = vec![0u8; 64 + len];
        buf[64 + 12..64 + 14].copy_from_slice(&[0x88, 0xb5]);
        let mut batch = [RxPacket {
            frame: Frame::new(&mut buf, 64, len).unwrap(),
            in_port: port,
            meta: PacketMeta::default(),
        }];
        w.process(&mut batch, &mut Verdicts::default());
    }
    w.flush();
    let check = |filter: FlowFilter, want: (u64, u64, u32)| {
        let agg = p.aggregate(&filter);
        let dump = p.dump_flows(&filter);
        let sum = (
            dump.iter().map(|f| f.packets).sum::<u64>(),
            dump.iter().map(|f| f.bytes).sum::<u64>(),
            dump.len() as u32,
        );
        assert_eq!((agg.packets, agg.bytes, agg.flows), want, "{filter:?}");
        assert_eq!(sum, want, "dump of {filter:?}");
    };
    check(FlowFilter::default(), (4, 280, 3));
    check(
        FlowFilter {
            table: 0,
            ..FlowFilter::default()
        },
        (4, 280, 2),
    );
    check(
        FlowFilter {
            cookie: 2,
            cookie_mask: u64::MAX,
            ..FlowFilter::default()
        },
        (1, 100, 1),
    );
    check(
        FlowFilter {
            matching: in_port(1),
            ..FlowFilter::default()
        },
        (3, 180, 1),
    );
    check(
        FlowFilter {
            out_port: PortNo(2),
            ..FlowFilter::default()
        },
        (3, 180, 2),
    );
}

#[test]
fn a_batch_from_a_failing_source_changes_nothing() {
    let p = pipeline();
    let made = |fail_at: Option<usize>| {
        (0..3).map(move |i| match fail_at {
            Some(f) if f == i => Err(format!("mod {i} unreadable")),
            _ => Ok(FlowMod::add(spec(0, 10, in_port(i as u128), 2))),
        })
    };
    let err = p.apply_from(made(Some(2))).unwrap_err();
    assert_eq!(
        err,
        wyvern_pipeline::SourcedBatchError::Source {
            index: 2,
            error: "mod 2 unreadable".to_string()
        }
    );
    assert!(all(&p).is_empty(), "the first two were not applied");
    p.apply_from(made(None)).unwrap();
    assert_eq!(all(&p).len(), 3);
    // A refused mod is reported as in apply().
    let mut bad = FlowMod::add(spec(254, 1, Match::new(), 2));
    bad.spec.priority = 3;
    let err = p
        .apply_from([
            Ok::<_, String>(FlowMod::add(spec(0, 1, Match::new(), 2))),
            Ok(bad),
        ])
        .unwrap_err();
    assert!(matches!(
        err,
        wyvern_pipeline::SourcedBatchError::Refused(BatchError { index: 1, .. })
    ));
    assert_eq!(all(&p).len(), 3);
}

/// A bundle as the switch plans it: `mods` planned one at a time as they arrive.
fn plan_each(p: &Pipeline, mods: &[FlowMod]) -> wyvern_pipeline::PendingBatch<String> {
    let mut batch = p.begin_batch();
    for m in mods {
        p.plan(&mut batch, [Ok::<_, String>(m)]);
    }
    batch
}

/// Commits `batch`, planned from `mods` (planned again from them if it must be).
fn commit(
    p: &Pipeline,
    batch: wyvern_pipeline::PendingBatch<String>,
    mods: &[FlowMod],
) -> Result<Vec<wyvern_pipeline::FlowRemoved>, wyvern_pipeline::SourcedBatchError<String>> {
    p.commit(batch, || mods.iter().map(Ok::<_, String>))
}

#[test]
fn a_batch_planned_in_parts_applies_only_at_its_commit() {
    let p = pipeline();
    let mods = [
        FlowMod::add(spec(0, 10, in_port(1), 2)),
        FlowMod::add(spec(0, 10, in_port(2), 2)),
        cmd(FlowModCommand::DeleteStrict, spec(0, 10, in_port(1), 0)),
    ];
    let batch = plan_each(&p, &mods);
    assert!(all(&p).is_empty(), "nothing visible before the commit");
    commit(&p, batch, &mods).unwrap();
    assert_eq!(all(&p), vec![spec(0, 10, in_port(2), 2)]);
}

#[test]
fn a_failure_while_planning_fails_the_commit_with_its_index() {
    let p = pipeline();
    let mods = [
        FlowMod::add(spec(0, 10, in_port(1), 2)),
        FlowMod::add(spec(254, 1, Match::new(), 2)),
        FlowMod::add(spec(0, 10, in_port(3), 2)),
    ];
    let batch = plan_each(&p, &mods);
    let err = commit(&p, batch, &mods).unwrap_err();
    assert!(matches!(
        err,
        wyvern_pipeline::SourcedBatchError::Refused(BatchError { index: 1, .. })
    ));
    assert!(all(&p).is_empty());
}

/// Another client changes the tables between a bundle's adds and its commit: the commit
/// plans the bundle again and applies it as if it came after that change.
#[test]
fn a_batch_planned_before_the_tables_changed_is_planned_again_at_its_commit() {
    let p = pipeline();
    let mut guarded = spec(1, 5, in_port(1), 2);
    guarded.flags = FlowFlags(FlowFlags::CHECK_OVERLAP);
    let mods = [FlowMod::add(guarded)];
    let batch = plan_each(&p, &mods);
    // Planned against empty tables, the add had no overlap; now it has.
    p.apply(&[FlowMod::add(spec(1, 5, Match::new(), 3))])
        .unwrap();
    let err = commit(&p, batch, &mods).unwrap_err();
    assert!(
        matches!(
            &err,
            wyvern_pipeline::SourcedBatchError::Refused(BatchError {
                index: 0,
                error: FlowModError::Overlap(5)
            })
        ),
        "{err:?}"
    );
    // And the other way: a delete planned against a flow another client removed.
    let mods = [
        cmd(FlowModCommand::DeleteStrict, spec(1, 5, Match::new(), 0)),
        FlowMod::add(spec(1, 6, in_port(9), 4)),
    ];
    let batch = plan_each(&p, &mods);
    p.apply(&[FlowMod::add(spec(1, 5, Match::new(), 7))])
        .unwrap();
    commit(&p, batch, &mods).unwrap();
    assert_eq!(all(&p), vec![spec(1, 6, in_port(9), 4)]);
}

#[test]
fn rules_of_a_batch_planned_in_parts_are_installed_at_the_commit() {
    let p = pipeline();
    let mut timed = spec(2, 5, in_port(1), 2);
    timed.hard_timeout = 1;
    let mods = [FlowMod::add(timed)];
    let batch = plan_each(&p, &mods);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    commit(&p, batch, &mods).unwrap();
    assert!(
        p.expire().is_empty(),
        "the hard timeout runs from the commit"
    );
    let flows = p.dump_flows(&FlowFilter::default());
    assert!(flows[0].duration < std::time::Duration::from_millis(500));
}

#[test]
fn a_failing_batch_does_not_reset_the_counters_it_would_have() {
    use wyvern_pipeline::wire::Frame;
    use wyvern_pipeline::{PacketMeta, RxPacket, Verdicts};
    let p = pipeline();
    p.apply(&[FlowMod::add(spec(0, 5, in_port(1), 2))]).unwrap();
    let mut w = p.worker();
    let mut buf = vec![0u8; 64 + 60];
    buf[64 + 12..64 + 14].copy_from_slice(&[0x88, 0xb5]);
    let mut batch = [RxPacket {
        frame: Frame::new(&mut buf, 64, 60).unwrap(),
        in_port: 1,
        meta: PacketMeta::default(),
    }];
    w.process(&mut batch, &mut Verdicts::default());
    w.flush();
    let packets = || p.dump_flows(&FlowFilter::default())[0].packets;
    let before = packets();
    assert_eq!(before, 1);
    let mut reset = spec(0, 5, in_port(1), 4);
    reset.flags = FlowFlags(FlowFlags::RESET_COUNTS);
    let err = p.apply(&[
        cmd(FlowModCommand::ModifyStrict, reset.clone()),
        FlowMod::add(spec(254, 1, Match::new(), 2)),
    ]);
    assert!(err.is_err());
    assert_eq!(packets(), before);
    p.apply(&[cmd(FlowModCommand::ModifyStrict, reset)])
        .unwrap();
    assert_eq!(packets(), 0);
}

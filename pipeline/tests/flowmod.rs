//! Flow-table changes through the control API, as OpenFlow 1.3 §6.4 defines them.

use std::sync::Arc;

use wyvern_pipeline::action::{Action, Instruction, PortNo};
use wyvern_pipeline::field::Field;
use wyvern_pipeline::flow::{FlowFlags, FlowMod, FlowModCommand, FlowSpec};
use wyvern_pipeline::flow_match::Match;
use wyvern_pipeline::{FlowFilter, FlowModError, Pipeline, PipelineConfig, RemovedReason};

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

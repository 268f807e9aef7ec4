//! One chassis of the built-in DVR without a datapath, for the cross-crate tests and benches:
//! the tables the flow compiler writes for it, its ports, one packet worker and the reactive
//! L3 controller, wired as `wyvern run` wires them. Include it with
//! `#[path = "<relative path to>/tests/common/dvr.rs"] mod dvr;`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use wyvern_pipeline::dvr::compile::{CompileInput, L3Mode, compile};
use wyvern_pipeline::dvr::controller::{L3Config, L3Controller};
use wyvern_pipeline::dvr::topology::Topology;
use wyvern_pipeline::{Pipeline, PipelineConfig, PipelinePort, Worker};

/// A chassis: its pipeline, a worker on it and its controller.
pub struct Chassis {
    pub pipeline: Arc<Pipeline>,
    pub worker: Worker,
    pub l3: L3Controller,
}

/// Chassis `name` of `topo` (validated from there), its local ports numbered by `ofports`.
pub fn chassis(topo: Topology, name: &str, ofports: &[(&str, u32)], mode: L3Mode) -> Chassis {
    chassis_with(topo, name, ofports, mode, PipelineConfig::default())
}

/// [`chassis`] with a pipeline configured by `config`.
pub fn chassis_with(
    topo: Topology,
    name: &str,
    ofports: &[(&str, u32)],
    mode: L3Mode,
    config: PipelineConfig,
) -> Chassis {
    topo.validate(Some(name)).expect("a valid topology");
    let topo = Arc::new(topo);
    let ofports: HashMap<String, u32> = ofports.iter().map(|(n, p)| (n.to_string(), *p)).collect();
    let input = CompileInput {
        chassis: name,
        ofports: ofports.clone(),
        tunnel_port: None,
        l3_mode: mode,
    };
    let pipeline = Pipeline::new(config);
    pipeline
        .apply(&compile(&topo, &input).expect("flows compile"))
        .expect("flows load");
    pipeline.set_ports(
        ofports
            .values()
            .map(|&no| PipelinePort {
                no,
                network: 0,
                no_flood: false,
                down: false,
            })
            .collect(),
    );
    let worker = pipeline.worker();
    let l3 = L3Controller::new(topo, name, ofports, None, L3Config::default());
    Chassis {
        pipeline,
        worker,
        l3,
    }
}

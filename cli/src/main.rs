//! # wyvern-cli: the `wyvern` command
//!
//! One binary for everything a user does with wyvern: run the switch, trace packets through
//! flows, and (as they land) talk OpenFlow to a running switch, run the lab and generate
//! traffic. Each subcommand lives in its own module; `main` only parses arguments and reports
//! errors.

mod pktgen;
mod trace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// wyvern: a userspace OpenFlow 1.3 switch with a built-in distributed virtual router.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs a packet through flows and prints each table's match, the actions and the verdict.
    Trace(trace::TraceArgs),
    /// Generates UDP/IPv4 traffic out of an interface (XDP live frames or AF_XDP), or counts
    /// it on arrival with --rx.
    Pktgen(pktgen::PktgenArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Trace(args) => trace::run(&args).map_err(|e| e.to_string()),
        Command::Pktgen(args) => pktgen::run(&args).map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wyvern: {e}");
            ExitCode::FAILURE
        }
    }
}

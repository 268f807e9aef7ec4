//! # wyvern-cli: the `wyvern` command
//!
//! One binary for everything a user does with wyvern: run the switch, trace packets through
//! flows, and (as they land) talk OpenFlow to a running switch, run the lab and generate
//! traffic. Each subcommand lives in its own module; `main` only parses arguments and reports
//! errors.

mod admin;
mod bridge_ports;
mod config;
mod dvr;
mod lab;
mod ofctl;
mod pktgen;
mod run;
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
    /// Runs the switch: the pipeline and its OpenFlow endpoint, until SIGINT or SIGTERM.
    Run(run::RunArgs),
    /// Runs a packet through flows and prints each table's match, the actions and the verdict.
    Trace(trace::TraceArgs),
    /// The ovs-ofctl verbs (show, dump-flows, add-flows, ...).
    #[command(flatten)]
    Ofctl(ofctl::Verb),
    /// The Dragonflow blog's lab on this machine: demo, up, down.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Generates UDP/IPv4 traffic out of an interface (XDP live frames or AF_XDP), or counts
    /// it on arrival with --rx.
    Pktgen(pktgen::PktgenArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` is a daemon: it logs at info unless RUST_LOG says otherwise.
    let default = match cli.command {
        Command::Run(_) => "info",
        Command::Trace(_) | Command::Ofctl(_) | Command::Pktgen(_) | Command::Lab(_) => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result: Result<(), Box<dyn std::error::Error>> = match cli.command {
        Command::Run(args) => run::run(&args).map_err(Into::into),
        Command::Trace(args) => trace::run(&args).map_err(Into::into),
        Command::Ofctl(verb) => ofctl::run(verb).map_err(Into::into),
        Command::Pktgen(args) => pktgen::run(&args).map_err(Into::into),
        Command::Lab(cmd) => lab::run(&cmd).map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wyvern: {e}");
            ExitCode::FAILURE
        }
    }
}

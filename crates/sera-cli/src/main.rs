//! The `sera` binary: argument parsing and glue over `sera-pipeline`, nothing else.
//!
//! Exit codes (the CLI contract in docs/ARCHITECTURE.md): 0 success, 1 usage error, 2 bad input
//! data, 3 environment problem. Every error names the file, record or line at fault.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Turn a code repository into supervised fine-tuning data for coding agents.
///
/// Procedural mode indexes a repository, injects bugs that its tests catch, lets a teacher
/// solve them in a sandbox and exports the trajectories. Each stage is a subcommand reading and
/// writing JSONL files, so stages can be run, inspected and rerun one at a time.
#[derive(Debug, Parser)]
#[command(name = "sera", version, propagate_version = true, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version requests are successes; clap's own usage errors exit with 1.
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let result: sera_pipeline::Result<()> = match cli.command {};
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

//! `cargo xtask`: the project's automation, in Rust so that it runs wherever cargo does.
//!
//! Subcommands: `codegen` (JSON schemas under `schemas/`), `tidy` (mechanical architecture and
//! style checks; also run as a test), `bench` (benchmarks that print ratios against a baseline
//! measured in the same run). It is a developer tool, not part of the shipped toolkit, so it may
//! run processes itself.

// xtask drives cargo, the sera binary and the baselines it measures against; the
// only-the-sandbox-spawns rule is about the shipped crates.
#![allow(clippy::disallowed_methods)]

mod bench;
mod codegen;
mod pipeline;
mod tidy;

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    match args.first().map(String::as_str) {
        Some("codegen") => codegen::write(&root),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("pipeline") => pipeline::run(&root, &args[1..]),
        Some("tidy") => {
            let problems = tidy::check(&root)?;
            if problems.is_empty() {
                println!("tidy: ok");
                Ok(())
            } else {
                for problem in &problems {
                    eprintln!("{problem}");
                }
                anyhow::bail!("tidy: {} problem(s)", problems.len())
            }
        }
        _ => {
            eprintln!("usage: cargo xtask <pipeline | codegen | tidy | bench>");
            eprintln!(
                "  pipeline  run the embedded demo pipeline (extra arguments go to `sera run`)"
            );
            eprintln!("  codegen   write the JSON schemas of the records to schemas/");
            eprintln!("  tidy      check crate docs, process spawning and whitespace");
            eprintln!("  bench     run a benchmark against its baseline (list: cargo xtask bench)");
            std::process::exit(1)
        }
    }
}

/// The workspace root: xtask's manifest lives one level below it.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

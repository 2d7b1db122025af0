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
enum Command {
    /// Index a repository: one JSON object per function or method.
    ///
    /// Walks REPO honouring .gitignore and hidden-file rules, parses Rust (.rs) and Python (.py,
    /// .pyi) with tree-sitter, and writes every function and method with its qualified name
    /// (`module::Type::method`, `pkg.mod.Class.method`), file, byte and line spans, whether it is
    /// test code, and the functions it calls (kept only where the callee's name is defined once
    /// in the repository). Records are sorted by file, then position.
    ///
    /// Files that cannot be read, are not UTF-8, are larger than --max-file-bytes or say they
    /// are generated are skipped; files with syntax errors are indexed as far as they parse.
    /// A summary listing both goes to stderr.
    #[command(after_help = "Examples:\n  sera index . --out functions.jsonl\n  \
                            sera index ../repo | jq -r .qualified_name")]
    Index(IndexArgs),
}

#[derive(Debug, clap::Args)]
struct IndexArgs {
    /// The repository's root folder.
    repo: std::path::PathBuf,
    /// Where to write the functions as JSONL; `-` is standard output.
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: std::path::PathBuf,
    /// Skip files larger than this many bytes (generated tables and bindings).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = sera_pipeline::index::IndexConfig::default().max_file_bytes
    )]
    max_file_bytes: u64,
    /// Also index files marked as generated (`@generated`, `DO NOT EDIT`, ...).
    #[arg(long)]
    include_generated: bool,
}

impl IndexArgs {
    fn run(self) -> sera_pipeline::Result<()> {
        let config = sera_pipeline::index::IndexConfig {
            max_file_bytes: self.max_file_bytes,
            skip_generated: !self.include_generated,
        };
        let report = sera_pipeline::index::run(&self.repo, &self.out, &config)?;
        eprintln!("{report}");
        Ok(())
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version requests are successes; clap's own usage errors exit with 1.
            let _ = err.print();
            return if err.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    let result: sera_pipeline::Result<()> = match cli.command {
        Command::Index(args) => args.run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

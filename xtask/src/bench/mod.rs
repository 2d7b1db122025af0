//! `cargo xtask bench <name>`: benchmarks that compare sera-rs against a baseline measured in
//! the same run on the same machine, and print the ratio. Targets are checked here, by a person
//! reading the output, never by timed assertions in tests.
//!
//! Each benchmark lives in its own module and is listed in [`BENCHES`].

mod export;
mod index;
mod mutate;
mod plugins;
mod realrepos;
mod rollout;
mod train;
mod validate;

use std::path::Path;

type Bench = fn(&Path, &[String]) -> anyhow::Result<()>;

/// (name, one-line description, entry point).
const BENCHES: &[(&str, &str, Bench)] = &[
    ("index", "sera index on a large Rust tree (MB/s) and vs code2flow on Python", index::run),
    (
        "validate",
        "sera validate vs cargo-mutants on the same mutants of a crates.io crate",
        validate::run,
    ),
    (
        "rollout",
        "agent-loop overhead per step, and 32 rollouts in flight against the test server",
        rollout::run,
    ),
    (
        "train",
        "sera-train tokens/s for `tiny` vs the same model in PyTorch, 2 CPU threads",
        train::run,
    ),
    (
        "mutate",
        "sera mutate vs cargo mutants --list on a large crates.io crate (mutants/s)",
        mutate::run,
    ),
    (
        "export",
        "sera export --from sera: import, filter and export with token counting (tokens/s, peak RSS)",
        export::run,
    ),
    (
        "realrepos",
        "sera run on 8 real crates.io and PyPI projects; kept fraction vs cargo-mutants' caught",
        realrepos::run,
    ),
    (
        "plugins",
        "ns per call of a plugin operator (swap-args) vs the same operator compiled in",
        plugins::run,
    ),
];

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let Some(name) = args.first() else {
        eprintln!("usage: cargo xtask bench <name> [args]");
        for (name, about, _) in BENCHES {
            eprintln!("  {name:<10} {about}");
        }
        anyhow::bail!("no benchmark named");
    };
    match BENCHES.iter().find(|(n, _, _)| n == name) {
        Some((_, _, bench)) => bench(root, &args[1..]),
        None => anyhow::bail!("unknown benchmark {name:?}; run `cargo xtask bench` for the list"),
    }
}

//! `cargo xtask pipeline`: the embedded default run, offline, on the demo repository.
//!
//! Copies `tests/data/rust-demo` (the `ledger` crate) to `target/sera-demo/ledger`, writes a
//! pipeline config next to it, and runs `sera run` on it: index, mutate, validate in the
//! sandbox, oracle rollouts, verification and export into `runs/demo/`. Extra arguments go to
//! `sera run` (for example `--config other.toml` to run your own).

use std::path::Path;
use std::process::Command;

const CONFIG: &str = r#"# The embedded default of `cargo xtask pipeline`: procedural mode, oracle teacher.
[run]
name = "demo"
dir = {runs:?}
seed = 0

[repo]
path = "ledger"

[mutate]
limit = 16
per_function = 2

[validate]
jobs = 2

[rollout]
teacher = "oracle"
concurrency = 2

[train]
model = "tiny"
steps = 20
"#;

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let demo = root.join("target/sera-demo");
    let repo = demo.join("ledger");
    if repo.exists() {
        std::fs::remove_dir_all(&repo)?;
    }
    sera_test_support::fixture_into("rust-demo", &repo);
    let config = demo.join("pipeline.toml");
    let runs = root.join("runs").display().to_string();
    std::fs::write(&config, CONFIG.replace("{runs:?}", &format!("{runs:?}")))?;

    let mut sera_args = vec!["run".to_string()];
    if args.iter().any(|a| a == "--config") {
        sera_args.extend(args.iter().cloned());
    } else {
        sera_args.extend(["--config".to_string(), config.display().to_string()]);
        sera_args.extend(args.iter().cloned());
    }
    println!("running sera {}", sera_args.join(" "));
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["run", "--quiet", "--package", "sera-cli", "--bin", "sera", "--"])
        .args(&sera_args)
        .status()?;
    anyhow::ensure!(status.success(), "sera run failed ({status})");
    Ok(())
}

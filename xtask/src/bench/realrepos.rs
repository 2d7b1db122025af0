//! `cargo xtask bench realrepos [--quick] [--limit N] [--mutants N] [--jobs J] [--only A,B]
//! [--keep]`: `sera run` on a fixed list of real projects from crates.io and PyPI, with zero
//! manual steps, and one table row per project.
//!
//! Sources are fetched at run time from the registries, never committed: a crate through a
//! throwaway cargo project that depends on `NAME = "=VERSION"` and `cargo fetch`, then a copy of
//! `~/.cargo/registry/src/*/NAME-VERSION`; a PyPI sdist through `pip download --no-binary
//! :all:`, unpacked. A published crate is never a workspace, so the workspace case is a virtual
//! workspace built here whose members are two real fetched crates.
//!
//! Each project gets a `pipeline.toml` of only `[run] name` and `[repo] path` (the point of
//! issue 15); `--quick` adds `[mutate] limit` and `[train] enabled = false` to keep a developer's
//! run short. The row comes from the run directory: `manifest.json`'s stage counts,
//! `logs/run.log` (the validate stage's duration) and `rejected.jsonl` (the reasons). For the
//! crates, the same sample of cargo-mutants' own mutants is validated by sera's validator and by
//! cargo-mutants (as `bench validate` does), and the kept and caught fractions are compared.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use sera_sandbox::{Sandbox, SandboxConfig};
use sera_verify::{Outcome, ValidateConfig, Validator, VerifyError};

use super::validate::{
    copy_tree, ensure_cargo_mutants, escape, list_mutants, read_outcomes, to_sera_mutant,
};

/// Where a project comes from.
enum Source {
    /// A crates.io crate at an exact version.
    Crate(&'static str, &'static str),
    /// A virtual workspace whose members are these crates.io crates.
    Workspace(&'static [(&'static str, &'static str)]),
    /// A PyPI sdist at an exact version.
    PyPi(&'static str, &'static str),
}

struct Project {
    name: &'static str,
    /// What the project stands for in the list (layout, test dependencies).
    why: &'static str,
    source: Source,
}

const PROJECTS: &[Project] = &[
    Project {
        name: "strsim",
        why: "crate, no dev-dependencies",
        source: Source::Crate("strsim", "0.11.1"),
    },
    Project {
        name: "either",
        why: "crate, registry dev-dependency (serde_json)",
        source: Source::Crate("either", "1.13.0"),
    },
    Project {
        name: "semver",
        why: "crate, integration tests in tests/",
        source: Source::Crate("semver", "1.0.23"),
    },
    Project {
        name: "ws-fnv-itoa",
        why: "virtual workspace built here: members fnv 1.0.7 + itoa 1.0.11",
        source: Source::Workspace(&[("fnv", "1.0.7"), ("itoa", "1.0.11")]),
    },
    Project {
        name: "six",
        why: "PyPI, flat: test_six.py at the root",
        source: Source::PyPi("six", "1.16.0"),
    },
    Project {
        name: "cachetools",
        why: "PyPI, src/ layout, unittest-style tests in tests/",
        source: Source::PyPi("cachetools", "5.5.0"),
    },
    Project {
        name: "more-itertools",
        why: "PyPI, flat package, unittest-style tests in tests/",
        source: Source::PyPi("more-itertools", "10.5.0"),
    },
    Project {
        name: "asgiref",
        why: "PyPI, tests need the pytest-asyncio plugin",
        source: Source::PyPi("asgiref", "3.8.1"),
    },
];

struct Options {
    quick: bool,
    limit: usize,
    mutants: usize,
    jobs: usize,
    only: Option<Vec<String>>,
    keep: bool,
}

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut options =
        Options { quick: false, limit: 8, mutants: 12, jobs: 1, only: None, keep: false };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--limit" => options.limit = value()?.parse()?,
            "--mutants" => options.mutants = value()?.parse()?,
            "--jobs" => options.jobs = value()?.parse()?,
            "--only" => {
                options.only = Some(value()?.split(',').map(str::to_string).collect());
            }
            "--keep" => options.keep = true,
            other => bail!(
                "unknown argument {other:?} (expected --quick, --limit, --mutants, --jobs, \
                 --only, --keep)"
            ),
        }
    }
    let sera = build_sera(root)?;
    let cargo_mutants = ensure_cargo_mutants();
    let work = std::env::temp_dir().join(format!("sera-bench-realrepos-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    println!("bench realrepos: {} ({})", sera.display(), work.display());
    if options.quick {
        println!(
            "  config: --quick: [run] name, [repo] path, [mutate] limit = {}, [train] enabled = \
             false",
            options.limit
        );
    } else {
        println!("  config: the plain two keys, [run] name and [repo] path");
    }
    if let Err(err) = &cargo_mutants {
        println!("  cargo-mutants comparison skipped: {err}");
    }

    let mut rows = Vec::new();
    for project in PROJECTS {
        if options.only.as_ref().is_some_and(|only| !only.iter().any(|o| o == project.name)) {
            continue;
        }
        println!("  {}: {}", project.name, project.why);
        let row = match fetch(&work, project) {
            Ok(repo) => {
                let mut row = run_sera(&sera, &work, project, &repo, &options);
                let is_rust = !matches!(project.source, Source::PyPi(..));
                if is_rust && cargo_mutants.is_ok() && options.mutants > 0 {
                    row.compare = Some(
                        compare_with_cargo_mutants(&work, project.name, &repo, &options)
                            .map_err(|err| format!("{err:#}")),
                    );
                }
                row
            }
            Err(err) => Row::failed(project.name, format!("fetch: {err:#}")),
        };
        println!("    {}", row.brief());
        rows.push(row);
    }
    print_table(&rows);
    if options.keep {
        println!("\n  run directories kept under {}", work.join("runs").display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

/// Builds the release `sera` binary and returns its path.
fn build_sera(root: &Path) -> anyhow::Result<PathBuf> {
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "sera-cli"])
        .current_dir(root)
        .status()
        .context("cargo build --release -p sera-cli")?;
    if !status.success() {
        bail!("cargo build --release -p sera-cli failed");
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    };
    let sera = target.join("release/sera");
    if !sera.is_file() {
        bail!("{} not found after the build", sera.display());
    }
    Ok(sera)
}

/// Fetches the project's sources into `work/repos/<name>` and returns that path.
fn fetch(work: &Path, project: &Project) -> anyhow::Result<PathBuf> {
    let repo = work.join("repos").join(project.name);
    match project.source {
        Source::Crate(name, version) => {
            let source = fetch_crates(work, project.name, &[(name, version)])?;
            copy_tree(&source[0], &repo)?;
        }
        Source::Workspace(members) => {
            let sources = fetch_crates(work, project.name, members)?;
            let mut names = Vec::new();
            for ((name, _), source) in members.iter().zip(&sources) {
                copy_tree(source, &repo.join(name))?;
                names.push(format!("{name:?}"));
            }
            std::fs::write(
                repo.join("Cargo.toml"),
                format!("[workspace]\nmembers = [{}]\nresolver = \"2\"\n", names.join(", ")),
            )?;
        }
        Source::PyPi(name, version) => {
            let download = work.join("downloads").join(project.name);
            std::fs::create_dir_all(&download)?;
            let out = Command::new("python3")
                .args(["-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d"])
                .arg(&download)
                .arg(format!("{name}=={version}"))
                .output()
                .context("python3 -m pip download")?;
            if !out.status.success() {
                bail!("pip download {name}=={version}: {}", tail(&out.stderr, 5));
            }
            let sdist = std::fs::read_dir(&download)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
                .with_context(|| format!("no .tar.gz sdist for {name}=={version}"))?;
            let unpacked = work.join("unpacked").join(project.name);
            std::fs::create_dir_all(&unpacked)?;
            let status = Command::new("tar")
                .arg("xzf")
                .arg(&sdist)
                .arg("-C")
                .arg(&unpacked)
                .status()
                .context("tar")?;
            if !status.success() {
                bail!("tar xzf {} failed", sdist.display());
            }
            let top = std::fs::read_dir(&unpacked)?
                .filter_map(Result::ok)
                .find(|e| e.path().is_dir())
                .context("the sdist has no top-level directory")?;
            copy_tree(&top.path(), &repo)?;
        }
    }
    Ok(repo)
}

/// `cargo fetch` of a throwaway project that depends on each `NAME = "=VERSION"`, and the paths
/// of their sources in the cargo registry.
fn fetch_crates(work: &Path, label: &str, crates: &[(&str, &str)]) -> anyhow::Result<Vec<PathBuf>> {
    let fetcher = work.join("fetch").join(label);
    std::fs::create_dir_all(fetcher.join("src"))?;
    let mut manifest = String::from(
        "[package]\nname = \"sera-bench-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         \n[workspace]\n\n[dependencies]\n",
    );
    for (name, version) in crates {
        writeln!(manifest, "{name} = \"={version}\"")?;
    }
    std::fs::write(fetcher.join("Cargo.toml"), manifest)?;
    std::fs::write(fetcher.join("src/lib.rs"), "")?;
    let out = Command::new("cargo")
        .arg("fetch")
        .arg("--manifest-path")
        .arg(fetcher.join("Cargo.toml"))
        .output()
        .context("cargo fetch")?;
    if !out.status.success() {
        bail!("cargo fetch: {}", tail(&out.stderr, 5));
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let mut found = Vec::new();
    for (name, version) in crates {
        let wanted = format!("{name}-{version}");
        let mut path = None;
        for index in std::fs::read_dir(home.join("registry/src"))? {
            let candidate = index?.path().join(&wanted);
            if candidate.join("Cargo.toml").is_file() {
                path = Some(candidate);
            }
        }
        found.push(path.with_context(|| format!("{wanted} not in the cargo registry"))?);
    }
    Ok(found)
}

/// One project's results.
struct Row {
    name: String,
    error: Option<String>,
    wall_s: f64,
    setup_s: Option<f64>,
    env_cached: bool,
    functions: Option<u64>,
    candidates: Option<u64>,
    kept: Option<u64>,
    validate_s: Option<f64>,
    trajectories: Option<u64>,
    resolved: Option<u64>,
    reasons: BTreeMap<String, u64>,
    /// (sample size, sera kept, cargo-mutants caught) on the same mutants.
    compare: Option<Result<(usize, usize, usize), String>>,
}

impl Row {
    fn failed(name: &str, error: String) -> Row {
        Row {
            name: name.to_string(),
            error: Some(error),
            wall_s: 0.0,
            setup_s: None,
            env_cached: false,
            functions: None,
            candidates: None,
            kept: None,
            validate_s: None,
            trajectories: None,
            resolved: None,
            reasons: BTreeMap::new(),
            compare: None,
        }
    }

    fn brief(&self) -> String {
        match &self.error {
            Some(err) => format!("FAILED after {:.0} s: {err}", self.wall_s),
            None => format!(
                "done in {:.0} s: {} kept of {} candidates",
                self.wall_s,
                opt(self.kept),
                opt(self.candidates)
            ),
        }
    }
}

/// Runs `sera run --quiet` on the project and reads its run directory.
fn run_sera(sera: &Path, work: &Path, project: &Project, repo: &Path, options: &Options) -> Row {
    let mut config = format!(
        "[run]\nname = {:?}\n\n[repo]\npath = {:?}\n",
        project.name,
        repo.display().to_string()
    );
    if options.quick {
        write!(config, "\n[mutate]\nlimit = {}\n\n[train]\nenabled = false\n", options.limit)
            .expect("writing to a String cannot fail");
    }
    let config_path = work.join(format!("{}.pipeline.toml", project.name));
    let mut row = Row::failed(project.name, String::new());
    row.error = None;
    if let Err(err) = std::fs::write(&config_path, &config) {
        row.error = Some(format!("writing {}: {err}", config_path.display()));
        return row;
    }
    let started = Instant::now();
    let out = Command::new(sera)
        .args(["run", "--quiet", "--config"])
        .arg(&config_path)
        .current_dir(work)
        .output();
    row.wall_s = started.elapsed().as_secs_f64();
    let run_dir = work.join("runs").join(project.name);
    let manifest: serde_json::Value = std::fs::read(run_dir.join("manifest.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    let stages = &manifest["stages"];
    let count = |stage: &str, key: &str| stages[stage]["counts"][key].as_u64();
    row.setup_s = count("env", "setup_ms").map(|ms| ms as f64 / 1000.0);
    row.env_cached = count("env", "cached") == Some(1);
    row.functions = count("index", "functions");
    row.candidates = count("validate", "candidates");
    row.kept = count("validate", "kept");
    row.trajectories = count("verify", "trajectories");
    row.resolved = count("verify", "resolved");
    row.validate_s = std::fs::read_to_string(run_dir.join("logs/run.log"))
        .ok()
        .and_then(|log| stage_seconds(&log, "validate"));
    if let Ok(text) = std::fs::read_to_string(run_dir.join("rejected.jsonl")) {
        for line in text.lines() {
            if let Ok(record) = serde_json::from_str::<serde_json::Value>(line) {
                let reason = record["reason"].as_str().unwrap_or("?").to_string();
                *row.reasons.entry(reason).or_default() += 1;
            }
        }
    }
    match out {
        Err(err) => row.error = Some(format!("cannot start {}: {err}", sera.display())),
        Ok(out) if !out.status.success() => {
            let failed = stages
                .as_object()
                .and_then(|s| {
                    s.iter().find(|(_, e)| e["status"] == "failed").map(|(n, _)| n.clone())
                })
                .unwrap_or_else(|| "?".to_string());
            row.error = Some(format!(
                "exit {}, stage {failed}: {}",
                out.status.code().map_or("signal".to_string(), |c| c.to_string()),
                tail(&out.stderr, 4)
            ));
        }
        Ok(_) => {}
    }
    row
}

/// The seconds of a stage from its `NAME: counts (S s)` line in `logs/run.log`.
fn stage_seconds(log: &str, stage: &str) -> Option<f64> {
    log.lines().rev().find_map(|line| {
        let rest = line.split_once(&format!("{stage}: "))?.1;
        let inner = rest.trim_end().strip_suffix(" s)")?;
        inner.rsplit_once('(')?.1.parse().ok()
    })
}

/// Validates the same sample of cargo-mutants' own mutants with sera's validator and with
/// cargo-mutants; returns (sample size, kept by sera, caught by cargo-mutants).
fn compare_with_cargo_mutants(
    work: &Path,
    name: &str,
    repo: &Path,
    options: &Options,
) -> anyhow::Result<(usize, usize, usize)> {
    let base = work.join("compare").join(name);
    copy_tree(repo, &base.join("for-sera"))?;
    copy_tree(repo, &base.join("for-cargo-mutants"))?;
    let listed = list_mutants(&base.join("for-sera"))?;
    if listed.is_empty() {
        bail!("cargo-mutants lists no mutants");
    }
    let step = (listed.len() / options.mutants).max(1);
    let chosen: Vec<&serde_json::Value> =
        listed.iter().step_by(step).take(options.mutants).collect();
    let names: Vec<String> =
        chosen.iter().map(|m| m["name"].as_str().unwrap_or_default().to_string()).collect();
    let mutants =
        chosen.iter().map(|m| to_sera_mutant(name, m)).collect::<anyhow::Result<Vec<_>>>()?;

    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let config = ValidateConfig {
        jobs: options.jobs,
        cache_dir: Some(base.join("sera-cache")),
        ..ValidateConfig::default()
    };
    let validator = Validator::new(&sandbox, &base.join("for-sera"), &config)?;
    let mut kept = 0;
    validator.validate::<VerifyError, _>(&mutants, |_, outcome| {
        if matches!(outcome, Outcome::Kept(_)) {
            kept += 1;
        }
        Ok(())
    })?;

    let regex = format!("^({})$", names.iter().map(|n| escape(n)).collect::<Vec<_>>().join("|"));
    let out_dir = base.join("cargo-mutants-out");
    // cargo-mutants exits non-zero when mutants are missed; its outcomes file is what counts.
    let _ = Command::new("cargo")
        .args(["mutants", "--no-shuffle", "--jobs", &options.jobs.to_string(), "--re", &regex])
        .arg("--output")
        .arg(&out_dir)
        .arg("--dir")
        .arg(base.join("for-cargo-mutants"))
        .output()
        .context("running cargo mutants")?;
    let (_, results, _) = read_outcomes(&out_dir.join("mutants.out/outcomes.json"))?;
    let caught = results.values().filter(|(summary, _)| summary == "CaughtMutant").count();
    if results.len() != mutants.len() {
        bail!("cargo-mutants tested {} mutants, sera {}", results.len(), mutants.len());
    }
    Ok((mutants.len(), kept, caught))
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "  {:<15} {:>8} {:>6} {:>6} {:>5} {:>7} {:>8} {:>9}  rejections",
        "project", "setup s", "funcs", "cands", "kept", "kept %", "s/mutant", "resolved"
    );
    for row in rows {
        let kept_pct = match (row.kept, row.candidates) {
            (Some(k), Some(c)) if c > 0 => format!("{:.0}", 100.0 * k as f64 / c as f64),
            _ => "-".to_string(),
        };
        let per_mutant = match (row.validate_s, row.candidates) {
            (Some(s), Some(c)) if c > 0 => format!("{:.2}", s / c as f64),
            _ => "-".to_string(),
        };
        let resolved = match (row.resolved, row.trajectories) {
            (Some(r), Some(t)) if t > 0 => format!("{r}/{t}"),
            _ => "-".to_string(),
        };
        let setup = row
            .setup_s
            .map(|s| format!("{s:.1}{}", if row.env_cached { "c" } else { "" }))
            .unwrap_or_else(|| "-".to_string());
        let reasons: Vec<String> = row.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!(
            "  {:<15} {:>8} {:>6} {:>6} {:>5} {:>7} {:>8} {:>9}  {}",
            row.name,
            setup,
            opt(row.functions),
            opt(row.candidates),
            opt(row.kept),
            kept_pct,
            per_mutant,
            resolved,
            if reasons.is_empty() { "-".to_string() } else { reasons.join(", ") }
        );
        if let Some(err) = &row.error {
            println!("  {:<15} FAILED: {err}", "");
        }
    }
    let compared: Vec<&Row> = rows.iter().filter(|r| r.compare.is_some()).collect();
    if compared.is_empty() {
        return;
    }
    println!();
    println!("  same cargo-mutants mutants, validated by both tools (target: within 10 points):");
    println!(
        "  {:<15} {:>7} {:>12} {:>15} {:>12}",
        "crate", "sample", "sera kept %", "c-m caught %", "difference"
    );
    for row in compared {
        match row.compare.as_ref().expect("filtered on is_some") {
            Ok((n, kept, caught)) => {
                let kept_pct = 100.0 * *kept as f64 / *n as f64;
                let caught_pct = 100.0 * *caught as f64 / *n as f64;
                println!(
                    "  {:<15} {:>7} {:>12} {:>15} {:>+12.0}",
                    row.name,
                    n,
                    format!("{kept_pct:.0} ({kept})"),
                    format!("{caught_pct:.0} ({caught})"),
                    kept_pct - caught_pct
                );
            }
            Err(err) => println!("  {:<15} comparison failed: {err}", row.name),
        }
    }
}

fn opt(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// The last `n` non-empty lines of a process's output, joined with ` | `.
fn tail(bytes: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

//! `cargo xtask bench index`: how fast `sera index` reads real code.
//!
//! 1. Builds `sera` in release.
//! 2. Indexes a large real Rust tree (default: every crate source under the cargo registry,
//!    `$CARGO_HOME/registry/src`) and prints MB/s and functions/s. Target: 10 MB/s on 2 cores.
//! 3. Indexes real Python packages (default: pip's own sources, `pip/_internal`, and
//!    `networkx` when installed) with `sera index` and with code2flow, the call-graph tool SERA
//!    uses, in the same run, and prints the speed ratio. Target: sera at least 20 times faster.
//!    code2flow is installed with pip if missing.
//!
//! Each measurement is the fastest of up to `--runs` runs (fewer when a tool's runs already took
//! 20 s), after one warm-up run of sera that brings the files into the page cache for both tools.
//! MB/s counts the bytes sera actually parsed (its summary line), not files it skipped. Besides
//! wall-clock time the bench prints CPU time (all threads) and the load average: on a busy
//! machine the wall-clock figures of a parallel tool suffer most, and CPU time shows the work.
//!
//! Options: `--rust DIR`, `--python DIR` (repeatable; replaces the defaults), `--runs N`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let options = Options::parse(args)?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let scratch = target.join("bench-index");
    std::fs::create_dir_all(&scratch)?;

    println!("building sera (release) ...");
    let status = command("cargo")
        .args(["build", "--release", "--quiet", "-p", "sera-cli"])
        .current_dir(root)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release -p sera-cli failed");
    }
    let sera = target.join("release/sera");
    println!("cores: {}; load average now: {}", cores(), load_average());

    let rust = match options.rust {
        Some(dir) => dir,
        None => cargo_home()?.join("registry/src"),
    };
    println!("\n== Rust: {}", rust.display());
    let out = scratch.join("rust.jsonl");
    let (time, summary) = time_sera(&sera, &rust, &out, options.runs)?;
    println!("  {}", summary.line);
    if summary.megabytes < 50.0 {
        println!("  note: under 50 MB of Rust indexed; the throughput is less meaningful");
    }
    println!(
        "  sera index: {:.2} s  ->  {:.1} MB/s, {:.0} functions/s  (target: >= 10 MB/s on 2 cores)",
        time.wall.as_secs_f64(),
        summary.megabytes / time.wall.as_secs_f64(),
        summary.functions as f64 / time.wall.as_secs_f64()
    );
    println!(
        "              {:.2} CPU s  ->  {:.1} MB per CPU-second",
        time.cpu.as_secs_f64(),
        summary.megabytes / time.cpu.as_secs_f64()
    );

    let python =
        if options.python.is_empty() { default_python_packages()? } else { options.python };
    ensure_code2flow()?;
    for package in python {
        println!("\n== Python: {}", package.display());
        let out = scratch.join("python.jsonl");
        let (sera_time, summary) = time_sera(&sera, &package, &out, options.runs)?;
        println!("  {}", summary.line);
        println!(
            "  sera index: {:.3} s, {:.2} CPU s  ({:.1} MB/s, {:.0} functions/s)",
            sera_time.wall.as_secs_f64(),
            sera_time.cpu.as_secs_f64(),
            summary.megabytes / sera_time.wall.as_secs_f64(),
            summary.functions as f64 / sera_time.wall.as_secs_f64()
        );
        let json = scratch.join("code2flow.json");
        match time_code2flow(&package, &json, options.runs)? {
            Ok(time) => println!(
                "  code2flow:  {:.3} s, {:.2} CPU s  ->  sera is {:.1}x faster  (target: >= 20x); \
                 {:.1}x less CPU time",
                time.wall.as_secs_f64(),
                time.cpu.as_secs_f64(),
                time.wall.as_secs_f64() / sera_time.wall.as_secs_f64(),
                time.cpu.as_secs_f64() / sera_time.cpu.as_secs_f64().max(0.01)
            ),
            Err(failure) => println!("  code2flow failed on this package, no ratio: {failure}"),
        }
    }
    // Other work on the machine slows both tools, sera (which uses every core) the most; the
    // load average tells a reader whether the numbers were taken on a quiet machine.
    println!("\nload average at the end: {}", load_average());
    Ok(())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1, 5 and 15 minute load averages, where the system reports them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".to_string(),
        |text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

struct Options {
    rust: Option<PathBuf>,
    python: Vec<PathBuf>,
    runs: usize,
}

impl Options {
    fn parse(args: &[String]) -> anyhow::Result<Options> {
        let mut options = Options { rust: None, python: Vec::new(), runs: 3 };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--rust" => options.rust = Some(PathBuf::from(value()?)),
                "--python" => options.python.push(PathBuf::from(value()?)),
                "--runs" => options.runs = value()?.parse().context("--runs needs a number")?,
                other => {
                    bail!("unknown option {other:?}; options: --rust DIR, --python DIR, --runs N")
                }
            }
        }
        options.runs = options.runs.max(1);
        Ok(options)
    }
}

/// What sera's summary line says it indexed.
struct Summary {
    line: String,
    megabytes: f64,
    functions: u64,
}

/// How long a tool may keep repeating its runs before the fastest so far is taken.
const REPEAT_BUDGET: Duration = Duration::from_secs(20);

/// The fastest of several runs: wall-clock time, and CPU time (user and system, all threads).
/// Each is the minimum over the runs, taken separately.
#[derive(Debug, Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

impl Timing {
    const NONE: Timing = Timing { wall: Duration::MAX, cpu: Duration::MAX };

    fn best(self, other: Timing) -> Timing {
        Timing { wall: self.wall.min(other.wall), cpu: self.cpu.min(other.cpu) }
    }
}

/// Runs `command` to completion, timing it.
fn timed(command: &mut Command) -> anyhow::Result<(Output, Timing)> {
    let cpu_before = children_cpu();
    let start = Instant::now();
    let output = command.output().with_context(|| format!("running {command:?}"))?;
    let wall = start.elapsed();
    let cpu = children_cpu().saturating_sub(cpu_before);
    Ok((output, Timing { wall, cpu }))
}

/// CPU time of this process's waited-for children so far, from `/proc/self/stat` (`cutime` and
/// `cstime`, in ticks of 1/100 s, Linux's USER_HZ); zero where there is no `/proc`.
fn children_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    // Fields after the command name, which is in parentheses and may hold spaces; `cutime`
    // and `cstime` are fields 16 and 17, so 14th and 15th after the name.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = fields.iter().skip(13).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    Duration::from_millis(ticks * 10)
}

fn time_sera(
    sera: &Path,
    repo: &Path,
    out: &Path,
    runs: usize,
) -> anyhow::Result<(Timing, Summary)> {
    // Warm-up: the page cache, for sera and for code2flow after it.
    let (warm, _) = run_sera(sera, repo, out)?;
    let mut best = Timing::NONE;
    let mut spent = Duration::ZERO;
    for _ in 0..runs {
        let (_, timing) = run_sera(sera, repo, out)?;
        best = best.best(timing);
        spent += timing.wall;
        if spent > REPEAT_BUDGET {
            break;
        }
    }
    Ok((best, parse_summary(&warm)?))
}

fn run_sera(sera: &Path, repo: &Path, out: &Path) -> anyhow::Result<(String, Timing)> {
    let (output, timing) = timed(command(sera).arg("index").arg(repo).arg("--out").arg(out))?;
    if !output.status.success() {
        bail!("sera index {} failed: {}", repo.display(), String::from_utf8_lossy(&output.stderr));
    }
    Ok((String::from_utf8_lossy(&output.stderr).into_owned(), timing))
}

/// Reads `indexed N files (12.3 MB): F functions ...`, the first line of sera's summary.
fn parse_summary(stderr: &str) -> anyhow::Result<Summary> {
    let line = stderr.lines().next().unwrap_or_default().to_string();
    let size =
        line.split_once('(').and_then(|(_, rest)| rest.split_once(')')).map(|(size, _)| size);
    let megabytes = match size.and_then(|s| s.split_once(' ')) {
        Some((number, unit)) => {
            let number: f64 = number.parse().with_context(|| format!("size in {line:?}"))?;
            match unit {
                "B" => number / 1e6,
                "kB" => number / 1e3,
                "MB" => number,
                _ => bail!("unknown unit in {line:?}"),
            }
        }
        None => bail!("no size in sera's summary {line:?}"),
    };
    let functions = line
        .split_once("): ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .and_then(|(n, _)| n.parse().ok())
        .with_context(|| format!("no function count in {line:?}"))?;
    Ok(Summary { line, megabytes, functions })
}

/// The fastest code2flow run, or why code2flow failed.
fn time_code2flow(
    package: &Path,
    json: &Path,
    runs: usize,
) -> anyhow::Result<Result<Timing, String>> {
    let mut best = Timing::NONE;
    let mut spent = Duration::ZERO;
    for _ in 0..runs {
        let _ = std::fs::remove_file(json);
        let (output, timing) = timed(
            command("code2flow")
                .args(["--language", "py", "--quiet", "--output"])
                .arg(json)
                .arg(package),
        )?;
        if !output.status.success() || !json.exists() {
            return Ok(Err(last_line(&output)));
        }
        best = best.best(timing);
        spent += timing.wall;
        if spent > REPEAT_BUDGET {
            break;
        }
    }
    Ok(Ok(best))
}

fn last_line(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string()
}

fn ensure_code2flow() -> anyhow::Result<()> {
    if command("code2flow").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    println!("installing code2flow with pip ...");
    let status = command("python3")
        .args(["-m", "pip", "install", "--quiet", "code2flow"])
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!("pip install code2flow failed; install it and rerun");
    }
    Ok(())
}

/// pip's own sources (always there with pip), and networkx if installed: a larger package on
/// which code2flow's cost grows faster than linearly.
fn default_python_packages() -> anyhow::Result<Vec<PathBuf>> {
    let mut packages = Vec::new();
    for (module, sub) in [("pip", "_internal"), ("networkx", "")] {
        let script = format!("import os, {module}; print(os.path.dirname({module}.__file__))");
        let output =
            command("python3").args(["-c", &script]).output().context("running python3")?;
        if output.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join(sub);
            packages.push(dir);
        }
    }
    if packages.is_empty() {
        bail!("neither pip nor networkx is importable with python3; pass --python DIR");
    }
    Ok(packages)
}

fn cargo_home() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return Ok(PathBuf::from(home));
    }
    let home =
        std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set; pass --rust DIR")?;
    Ok(PathBuf::from(home).join(".cargo"))
}

/// xtask is a developer tool, outside the shipped crates, and may run processes itself
/// (docs/ARCHITECTURE.md); this is its one way to start them in this benchmark.
#[allow(clippy::disallowed_methods)]
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    Command::new(program)
}

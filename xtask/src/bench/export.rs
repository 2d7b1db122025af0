//! `cargo xtask bench export`: import, filter and export throughput with token counting, and
//! peak memory at two corpus sizes to show that it stays flat.
//!
//! 1. Builds `sera` in release.
//! 2. Generates corpora of SERA dataset rows (`messages` as a JSON string of SWE-agent history,
//!    `rollout_patch`, `target_patch`, ...) with the seed: each row is one realistic
//!    trajectory of 6 to 28 steps (grep, file views with `cat -n` numbering, test runs,
//!    `str_replace` edits, two `submit` calls) over generated Python and Rust code, with a
//!    2-to-12-line patch that parses.
//! 3. Runs `sera export --from sera --format hermes --out-dir DIR` on each corpus (import,
//!    filters, ChatML token counting with the embedded vocabulary, rendering, splits, card),
//!    watching the process's peak resident memory (VmHWM), and prints trajectories/s,
//!    tokens/s (tokens of the kept records) and peak RSS. Target: at least 1 million tokens/s
//!    on 2 cores, and peak memory about the same at both sizes.
//!
//! Options: `--sizes A,B` (10000,30000), `--seed N` (7), `--threads N` (all cores).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sera_core::{Patch, SplitMix64};
use serde_json::{Value, json};

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let sizes: Vec<usize> = match flag(args, "--sizes") {
        Some(text) => text.split(',').map(|s| s.trim().parse()).collect::<Result<_, _>>()?,
        None => vec![10_000, 30_000],
    };
    let seed: u64 = flag(args, "--seed").map(|s| s.parse()).transpose()?.unwrap_or(7);
    let threads = flag(args, "--threads");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    println!("building sera (release) ...");
    let status = command("cargo")
        .args(["build", "--release", "-q", "-p", "sera-cli"])
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("cargo build --release -p sera-cli failed");
    }
    let sera = target.join("release/sera");
    let work = target.join("bench-export");
    std::fs::create_dir_all(&work)?;
    println!("cores: {}", std::thread::available_parallelism().map_or(0, |n| n.get()));
    for &size in &sizes {
        let corpus = work.join(format!("corpus-{size}.jsonl"));
        let started = Instant::now();
        let bytes = generate(&corpus, size, seed)?;
        println!(
            "\ncorpus of {size} trajectories: {:.0} MB, generated in {:.1} s",
            bytes as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
        let out = work.join(format!("dataset-{size}"));
        let _ = std::fs::remove_dir_all(&out);
        let mut command = command(&sera);
        command
            .args(["export", "--from", "sera", "--format", "hermes", "--out-dir"])
            .arg(&out)
            .arg("--trajectories")
            .arg(&corpus);
        if let Some(threads) = &threads {
            command.env("RAYON_NUM_THREADS", threads);
        }
        let (elapsed, peak_kb) = watch(&mut command)?;
        let stats: Value = serde_json::from_str(&std::fs::read_to_string(out.join("stats.json"))?)?;
        let read = stats["read"].as_u64().context("stats.json without read")?;
        let kept: u64 =
            stats["kept"].as_object().map_or(0, |k| k.values().filter_map(Value::as_u64).sum());
        let tokens = stats["tokens"]["total"].as_u64().context("stats.json without tokens")?;
        let seconds = elapsed.as_secs_f64();
        println!(
            "sera export --from sera: {read} read, {kept} kept, {tokens} tokens in {seconds:.1} s\n  \
             {:>10.0} trajectories/s   {:>12.0} tokens/s   {:>6.1} MB/s input   peak RSS {:.0} MB",
            read as f64 / seconds,
            tokens as f64 / seconds,
            bytes as f64 / 1e6 / seconds,
            peak_kb as f64 / 1024.0
        );
        std::fs::remove_file(&corpus)?;
    }
    Ok(())
}

/// Runs `command`, polling its peak resident set (VmHWM) until it exits.
fn watch(command: &mut Command) -> anyhow::Result<(Duration, u64)> {
    let started = Instant::now();
    let mut child =
        command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn()?;
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_path)
            && let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:"))
        {
            let kb = line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            let elapsed = started.elapsed();
            if !status.success() {
                let output = child.wait_with_output()?;
                bail!("sera export failed: {}", String::from_utf8_lossy(&output.stderr));
            }
            return Ok((elapsed, peak_kb));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `count` SERA rows to `path`, streaming; returns the file's size.
fn generate(path: &Path, count: usize, seed: u64) -> anyhow::Result<u64> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut rng = SplitMix64::derive(seed, "bench-export");
    for i in 0..count {
        let row = row(&mut rng, i);
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

const WORDS: &[&str] = &[
    "value", "index", "buffer", "config", "parser", "token", "range", "limit", "offset", "cache",
    "result", "error", "handle", "record", "stream", "window", "count", "total", "state", "node",
    "path", "entry", "item", "field",
];
const THOUGHTS: &[&str] = &[
    "Let me look at how this function handles the boundary case.",
    "The traceback points at this module, so I'll open it and read the surrounding code.",
    "I should reproduce the problem first with a small script before changing anything.",
    "The comparison looks off by one: the loop stops before the last element.",
    "Now I'll run the reproduction again to confirm the fix works.",
    "Let me search for other callers that might rely on the old behaviour.",
    "This branch returns early without updating the counter, which explains the wrong total.",
    "I'll check the tests directory to see how this is exercised, without changing the tests.",
];

fn word(rng: &mut SplitMix64) -> &'static str {
    WORDS[rng.below(WORDS.len() as u64) as usize]
}

fn ident(rng: &mut SplitMix64) -> String {
    format!("{}_{}", word(rng), word(rng))
}

/// A Python function of `lines` lines.
fn code(rng: &mut SplitMix64, lines: usize) -> Vec<String> {
    let name = ident(rng);
    let mut out = vec![
        format!("def {name}({}, {}):", word(rng), word(rng)),
        format!("    \"\"\"Return the {} of the {}.\"\"\"", word(rng), word(rng)),
    ];
    while out.len() < lines {
        let line = match rng.below(6) {
            0 => format!("    if {} >= {}:", word(rng), word(rng)),
            1 => format!(
                "        {} = {}.get({:?}, {})",
                word(rng),
                word(rng),
                word(rng),
                rng.below(100)
            ),
            2 => format!("    for {} in range(len({})):", word(rng), word(rng)),
            3 => format!(
                "        {}.append({}[{}] + {})",
                word(rng),
                word(rng),
                word(rng),
                rng.below(10)
            ),
            4 => format!("    {} += {}  # {} {}", word(rng), word(rng), word(rng), word(rng)),
            _ => format!("    return {}({}, {})", ident(rng), word(rng), word(rng)),
        };
        out.push(line);
    }
    out
}

fn numbered(lines: &[String], first: usize) -> String {
    lines.iter().enumerate().map(|(i, l)| format!("{:>6}\t{l}\n", first + i)).collect()
}

fn row(rng: &mut SplitMix64, i: usize) -> Value {
    let file = format!("src/{}/{}.py", word(rng), ident(rng));
    let lines = 12 + rng.below(30) as usize;
    let body = code(rng, lines);
    let issue = format!(
        "`{}` returns the wrong {} when the {} is empty\n\nCalling it with an empty {} gives {} instead of {}.",
        body[0].trim_start_matches("def ").split('(').next().unwrap_or("f"),
        word(rng),
        word(rng),
        word(rng),
        rng.below(100),
        rng.below(100)
    );
    let task = format!(
        "<uploaded_files>\n/testbed\n</uploaded_files>\nI've uploaded a python code repository in the directory /testbed. \
         Consider the following PR description:\n\n<pr_description>\n{issue}\n</pr_description>\n\nCan you help me implement \
         the necessary changes to the repository so that the requirements specified in the <pr_description> are met? \
         Tests are already taken care of; do not modify them. Find the relevant code, write a reproduction script and \
         run it, edit the source, rerun it, and think about edge cases."
    );
    let mut history = vec![
        json!({"role": "system", "content": "You are a helpful assistant that can interact with a computer to solve tasks.", "agent": "main", "message_type": "system_prompt"}),
        json!({"role": "user", "content": [{"type": "text", "text": task}], "agent": "main", "message_type": "observation"}),
    ];
    let steps = 6 + rng.below(23) as usize;
    for step in 0..steps {
        let id = format!("call_{i}_{step}");
        let (name, arguments, observation) = match (step, rng.below(5)) {
            (0, _) | (_, 0) => {
                let hits: String = (0..1 + rng.below(12))
                    .map(|k| {
                        format!(
                            "/testbed/{file}:{}:    {}\n",
                            3 + k * 7,
                            body[(k as usize) % body.len()].trim()
                        )
                    })
                    .collect();
                (
                    "bash",
                    json!({"command": format!("grep -rn \"{}\" /testbed/src", word(rng))}),
                    hits,
                )
            }
            (_, 1) | (_, 2) => {
                let first = 1 + rng.below(40) as usize;
                let lines = 15 + rng.below(45) as usize;
                let view = code(rng, lines);
                (
                    "str_replace_editor",
                    json!({"command": "view", "path": format!("/testbed/{file}"), "view_range": [first, first + view.len()]}),
                    format!(
                        "Here's the result of running `cat -n` on /testbed/{file}:\n{}",
                        numbered(&view, first)
                    ),
                )
            }
            (_, 3) => {
                let log: String = (0..3 + rng.below(20))
                    .map(|k| {
                        format!(
                            "tests/test_{}.py::test_{}_{} {}\n",
                            word(rng),
                            ident(rng),
                            k,
                            if k % 5 == 0 { "FAILED" } else { "PASSED" }
                        )
                    })
                    .collect();
                ("bash", json!({"command": "cd /testbed && python -m pytest -q tests"}), log)
            }
            _ => {
                let old = body[2 + rng.below((body.len() - 2) as u64) as usize].clone();
                let new = format!("{old}  # fixed");
                (
                    "str_replace_editor",
                    json!({"command": "str_replace", "path": format!("/testbed/{file}"), "old_str": old, "new_str": new}),
                    format!(
                        "The file /testbed/{file} has been edited. Here's the result of running `cat -n` on a snippet:\n{}Review the changes and make sure they are as expected.",
                        numbered(&body[..6.min(body.len())], 1)
                    ),
                )
            }
        };
        let thought = THOUGHTS[rng.below(THOUGHTS.len() as u64) as usize];
        history.push(json!({"role": "assistant", "content": thought, "agent": "main", "message_type": "action",
            "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": arguments.to_string()}}]}));
        history.push(json!({"role": "tool", "content": [{"type": "text", "text": format!("OBSERVATION:\n{observation}")}], "agent": "main", "message_type": "observation", "tool_call_ids": [id]}));
    }
    // The fix: change 1 to 6 lines of the function.
    let mut fixed = body.clone();
    for _ in 0..1 + rng.below(6) {
        let at = 2 + rng.below((fixed.len() - 2) as u64) as usize;
        fixed[at] = format!("{}  # {}", fixed[at], word(rng));
    }
    let old_text = body.join("\n") + "\n";
    let new_text = fixed.join("\n") + "\n";
    let patch = Patch::between(&file, &old_text, &new_text).render();
    for (k, text) in [
        (
            "submit_1",
            format!(
                "Thank you for your work on this issue. Please review your changes.\n\n<diff>\n{patch}</diff>"
            ),
        ),
        ("submit_2", patch.clone()),
    ] {
        let id = format!("call_{i}_{k}");
        history.push(json!({"role": "assistant", "content": "The fix is in place and verified. Submitting.", "agent": "main", "message_type": "action",
            "tool_calls": [{"id": id, "type": "function", "function": {"name": "submit", "arguments": "{}"}}]}));
        history.push(json!({"role": "tool", "content": [{"type": "text", "text": format!("OBSERVATION:\n{text}")}], "agent": "main", "message_type": "observation", "tool_call_ids": [id]}));
    }
    json!({
        "instance_id": format!("bench__repo-{i}"),
        "messages": serde_json::to_string(&history).expect("JSON values serialize"),
        "rollout_patch": patch,
        "target_patch": patch,
        "func_name": body[0].trim_start_matches("def ").split('(').next().unwrap_or("f"),
        "func_path": file,
        "problem_statement": issue,
    })
}

/// xtask is a developer tool and may run processes (docs/ARCHITECTURE.md).
#[allow(clippy::disallowed_methods)]
fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    Command::new(program)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

//! `cargo xtask bench rollout`: the cost of the agent loop itself, and many rollouts in flight.
//!
//! 1. Overhead per step: a whole rollout (explore, view, edit, undo, re-edit, submit twice) run
//!    many times with an in-process teacher that answers at once and a shell that returns at
//!    once. The time spent inside the teacher and the shell is measured and subtracted, so
//!    what is left is the loop, the editor's file work, observation formatting and the submit
//!    diff. Target: under 2 ms per step.
//! 2. 32 concurrent rollouts against the scripted local OpenAI-compatible server (each answer
//!    delayed to stand in for a model), compared with the same 32 run one after another. All
//!    must submit without errors.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sera_core::{ExitStatus, Message, Role, RolloutKind, ToolCall};
use sera_rollout::test_server::{Scripted, TestServer};
use sera_rollout::{
    Environment, LoopConfig, OpenAiConfig, OpenAiTeacher, Reply, Shell, ShellOutput, Task, Teacher,
    TeacherError, prompts, run_loop,
};
use serde_json::{Map, Value, json};

pub fn run(_root: &Path, args: &[String]) -> anyhow::Result<()> {
    let rounds: usize = flag(args, "--rounds").unwrap_or(200);
    let concurrent: usize = flag(args, "--concurrency").unwrap_or(32);
    let delay_ms: u64 = flag(args, "--delay-ms").unwrap_or(50);
    overhead(rounds)?;
    in_flight(concurrent, Duration::from_millis(delay_ms))?;
    Ok(())
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1)?.parse().ok()
}

/// The calls of one scripted rollout over the tree made by [`tree`].
fn script() -> Vec<(&'static str, Value)> {
    vec![
        ("str_replace_editor", json!({"command": "view", "path": "/testbed"})),
        ("bash", json!({"command": "grep -rn \"fn clamp\" ."})),
        (
            "str_replace_editor",
            json!({"command": "view", "path": "/testbed/src/lib.rs", "view_range": [1, 60]}),
        ),
        ("bash", json!({"command": "cargo test clamp"})),
        (
            "str_replace_editor",
            json!({"command": "str_replace", "path": "/testbed/src/lib.rs", "old_str": "value >= high", "new_str": "value > high"}),
        ),
        ("str_replace_editor", json!({"command": "undo_edit", "path": "/testbed/src/lib.rs"})),
        (
            "str_replace_editor",
            json!({"command": "str_replace", "path": "/testbed/src/lib.rs", "old_str": "value >= high", "new_str": "value > high"}),
        ),
        ("bash", json!({"command": "cargo test clamp"})),
        ("submit", json!({})),
        ("submit", json!({})),
    ]
}

/// A repository of 40 files of about 300 lines each, `src/lib.rs` holding the bug.
fn tree(root: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(root.join("src/more"))?;
    let body: String = (0..300)
        .map(|i| format!("    let value_{i} = compute({i}) + offset; // line {i}\n"))
        .collect();
    for i in 0..40 {
        std::fs::write(
            root.join(format!("src/more/m{i}.rs")),
            format!("pub fn f{i}() {{\n{body}}}\n"),
        )?;
    }
    let lib = format!(
        "pub fn clamp(value: i64, low: i64, high: i64) -> i64 {{\n    if value < low {{\n        low\n    }} else if value >= high {{\n        high\n    }} else {{\n        value\n    }}\n}}\n{body}"
    );
    std::fs::write(root.join("src/lib.rs"), lib)?;
    Ok(())
}

/// Answers from [`script`] at once, by counting the assistant turns so far.
struct Immediate;

impl Teacher for Immediate {
    fn name(&self) -> String {
        "bench".into()
    }

    fn reply(&self, _task: &Task<'_>, messages: &[Message]) -> Result<Reply, TeacherError> {
        let turn = messages.iter().filter(|m| m.role == Role::Assistant).count();
        let (name, arguments) = script().swap_remove(turn.min(9));
        let arguments = match arguments {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Ok(Reply {
            reasoning: Some("thinking".into()),
            tool_calls: vec![ToolCall { id: String::new(), name: name.into(), arguments }],
            ..Reply::default()
        })
    }
}

/// Measures the time spent inside the teacher, to take it out of the loop's.
struct Timed<'a> {
    inner: &'a dyn Teacher,
    spent: &'a Mutex<Duration>,
}

impl Teacher for Timed<'_> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn reply(&self, task: &Task<'_>, messages: &[Message]) -> Result<Reply, TeacherError> {
        let start = Instant::now();
        let reply = self.inner.reply(task, messages);
        *self.spent.lock().unwrap_or_else(|p| p.into_inner()) += start.elapsed();
        reply
    }
}

/// Returns a fixed test-run output at once, and measures itself.
struct FakeShell {
    spent: Arc<Mutex<Duration>>,
}

impl Shell for FakeShell {
    fn run(&mut self, command: &str, _timeout: Duration) -> Result<ShellOutput, String> {
        let start = Instant::now();
        let output =
            format!("running 1 test\ntest tests::{command} ... ok\n\ntest result: ok. 1 passed\n");
        *self.spent.lock().unwrap_or_else(|p| p.into_inner()) += start.elapsed();
        Ok(ShellOutput { output, exit_code: Some(0), timed_out: false })
    }
}

fn start_messages() -> Vec<Message> {
    vec![
        Message::text(Role::System, prompts::SYSTEM_PROMPT),
        Message::text(
            Role::User,
            prompts::task_message(
                "/testbed",
                "clamp is wrong at the upper bound",
                prompts::TaskLanguage::Rust,
            ),
        ),
    ]
}

fn overhead(rounds: usize) -> anyhow::Result<()> {
    let teacher_time = Mutex::new(Duration::ZERO);
    let shell_time = Arc::new(Mutex::new(Duration::ZERO));
    let tools = prompts::tool_schemas("/testbed");
    let task = Task {
        kind: RolloutKind::Procedural,
        workdir: "/testbed",
        tools: &tools,
        instance: None,
        seed: 0,
    };
    let teacher = Timed { inner: &Immediate, spent: &teacher_time };
    let mut steps = 0;
    let mut loop_time = Duration::ZERO;
    let mut setup_time = Duration::ZERO;
    for _ in 0..rounds {
        let dir = tempfile_dir()?;
        tree(&dir)?;
        let setup = Instant::now();
        let shell = Box::new(FakeShell { spent: Arc::clone(&shell_time) });
        let mut env = Environment::new(&dir, "/testbed", shell, Duration::from_secs(300))?;
        setup_time += setup.elapsed();
        let start = Instant::now();
        let outcome = run_loop(&mut env, &teacher, &task, start_messages(), &LoopConfig::default());
        loop_time += start.elapsed();
        if outcome.exit_status != ExitStatus::Submitted {
            bail!("the scripted rollout ended with {:?}", outcome.exit_status);
        }
        steps += outcome.steps;
        std::fs::remove_dir_all(&dir).ok();
    }
    let teacher = *teacher_time.lock().unwrap_or_else(|p| p.into_inner());
    let shell = *shell_time.lock().unwrap_or_else(|p| p.into_inner());
    let net = loop_time.saturating_sub(teacher + shell);
    let per_step = net.as_secs_f64() * 1e3 / steps as f64;
    println!("rollout overhead: {rounds} rollouts, {steps} steps over a 41-file tree");
    println!(
        "  loop total {:.1} ms, inside teacher {:.1} ms, inside shell {:.1} ms",
        loop_time.as_secs_f64() * 1e3,
        teacher.as_secs_f64() * 1e3,
        shell.as_secs_f64() * 1e3
    );
    println!(
        "  per step, excluding model and command time: {per_step:.3} ms (target < 2 ms: {})",
        if per_step < 2.0 { "met" } else { "NOT met" }
    );
    println!(
        "  environment setup (fingerprint of the tree) per rollout: {:.3} ms",
        setup_time.as_secs_f64() * 1e3 / rounds as f64
    );
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("sera-bench-rollout-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    Ok(dir)
}

fn in_flight(concurrent: usize, delay: Duration) -> anyhow::Result<()> {
    let server = TestServer::start(move |body, _| {
        let turn = body["messages"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["role"] == "assistant").count());
        let (name, arguments) = script().swap_remove(turn.min(9));
        Scripted::Delay(delay, Box::new(Scripted::tool_call(name, arguments)))
    })?;
    let mut config = OpenAiConfig::new(&server.base_url(), "bench");
    config.initial_backoff = Duration::from_millis(50);
    let teacher = OpenAiTeacher::new(config);
    let tools = prompts::tool_schemas("/testbed");
    let rollout = |teacher: &OpenAiTeacher| -> anyhow::Result<ExitStatus> {
        let dir = tempfile_dir()?;
        tree(&dir)?;
        let shell = Box::new(FakeShell { spent: Arc::new(Mutex::new(Duration::ZERO)) });
        let mut env = Environment::new(&dir, "/testbed", shell, Duration::from_secs(300))?;
        let task = Task {
            kind: RolloutKind::Procedural,
            workdir: "/testbed",
            tools: &tools,
            instance: None,
            seed: 0,
        };
        let outcome = run_loop(&mut env, teacher, &task, start_messages(), &LoopConfig::default());
        std::fs::remove_dir_all(&dir).ok();
        if let Some(error) = outcome.error {
            bail!("rollout failed: {error}");
        }
        Ok(outcome.exit_status)
    };

    let start = Instant::now();
    let results: Vec<anyhow::Result<ExitStatus>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..concurrent).map(|_| scope.spawn(|| rollout(&teacher))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| bail!("a rollout thread panicked")))
            .collect()
    });
    let parallel = start.elapsed();
    let submitted = results.iter().filter(|r| matches!(r, Ok(ExitStatus::Submitted))).count();
    let errors: Vec<String> =
        results.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect();

    let start = Instant::now();
    for _ in 0..concurrent {
        rollout(&teacher)?;
    }
    let serial = start.elapsed();
    let requests = server.requests().len();
    println!(
        "{concurrent} rollouts against the scripted server ({} ms per answer, 10 steps each):",
        delay.as_millis()
    );
    println!(
        "  in flight at once: {:.2} s, {submitted}/{concurrent} submitted, {} errors",
        parallel.as_secs_f64(),
        errors.len()
    );
    println!(
        "  one after another: {:.2} s  (speed-up {:.1}x)",
        serial.as_secs_f64(),
        serial.as_secs_f64() / parallel.as_secs_f64()
    );
    println!("  requests served: {requests}");
    if submitted != concurrent || !errors.is_empty() {
        bail!("not every concurrent rollout submitted: {errors:?}");
    }
    Ok(())
}

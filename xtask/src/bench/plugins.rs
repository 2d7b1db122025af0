//! `cargo xtask bench plugins`: the cost of calling a mutation operator through the plugin
//! boundary, against the same operator compiled in.
//!
//! The operator is `plugins/swap-args`. xtask depends on it, so cargo builds its `cdylib` next
//! to xtask's own dependencies with the same profile; the bench loads that library through
//! `sera-plugin-host` (version and layout checks included, timed once) and calls
//! `Plugin::edits` (FFI call, `catch_unwind`, RVec to Vec, the host's range checks), then calls
//! `swap_args::SwapArgs::mutate` directly on the same inputs, and prints ns per call of both and
//! the difference. Two inputs: a function with three calls to swap (the operator does real work)
//! and a one-line function with nothing to swap (the cost is almost all overhead).
//!
//! Options: `--calls N` (default 200000 per measurement); each measurement is the fastest of 5.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sera_core::{ByteSpan, Entity, EntityKind, Language, LineSpan};
use sera_plugin_host::{SourceText, load_file};
use swap_args::{OPERATOR, SwapArgs};

pub fn run(_root: &Path, args: &[String]) -> anyhow::Result<()> {
    let calls = match args {
        [] => 200_000,
        [flag, n] if flag == "--calls" => n.parse().context("--calls takes a number")?,
        _ => bail!("usage: cargo xtask bench plugins [--calls N]"),
    };
    let exe = std::env::current_exe().context("finding the xtask binary")?;
    let dir = exe.parent().context("the xtask binary has no directory")?;
    let file =
        format!("{}swap_args.{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_EXTENSION);
    let library = dir.join("deps").join(&file);
    if !library.is_file() {
        bail!("{} is missing; it is built with xtask (cargo build -p xtask)", library.display());
    }

    let start = Instant::now();
    let plugin = load_file(&library)?;
    let load = start.elapsed();
    let operators = plugin.operators()?;
    let operator = operators.first().context("swap-args offers an operator")?;
    println!("library: {}", library.display());
    println!("load (open, version and layout check, root module): {load:.2?}");
    println!("calls per measurement: {calls}; fastest of 5\n");
    println!("{:<28} {:>12} {:>12} {:>12}", "input", "plugin ns", "compiled ns", "overhead ns");

    let inputs = [
        (
            "3 calls to swap (230 B)",
            "pub fn clamp(x: i32, lo: i32, hi: i32) -> i32 {\n    if x < lo {\n        \
             return lo;\n    }\n    let top = std::cmp::min(x, hi);\n    \
             std::cmp::max(lo, top) + 0 * offset(hi, lo)\n}\n",
        ),
        ("nothing to swap (20 B)", "fn f() -> u8 { 1 }\n"),
    ];
    for (name, text) in inputs {
        let entity = entity(text.len());
        let source = SourceText { path: "src/lib.rs", language: Language::Rust, text };
        let expected = SwapArgs.mutate_direct(text)?;
        let through_plugin = plugin.edits(operator, &source, &entity)?;
        if through_plugin != expected {
            bail!("the plugin and the compiled-in operator disagree on {name}");
        }
        let plugin_ns = fastest(calls, || {
            plugin.edits(operator, &source, &entity).map(|edits| edits.len()).unwrap_or(0)
        });
        let direct_ns =
            fastest(calls, || SwapArgs.mutate_direct(text).map(|e| e.len()).unwrap_or(0));
        println!("{name:<28} {plugin_ns:>12.1} {direct_ns:>12.1} {:>12.1}", plugin_ns - direct_ns);
    }
    Ok(())
}

/// Calling the operator the way the host would, but compiled in.
trait Direct {
    fn mutate_direct(&self, text: &str) -> anyhow::Result<Vec<sera_plugin_api::Edit>>;
}

impl Direct for SwapArgs {
    fn mutate_direct(&self, text: &str) -> anyhow::Result<Vec<sera_plugin_api::Edit>> {
        use sera_plugin_api::BugClass;
        self.mutate(OPERATOR, text, "rust", 0..text.len()).map_err(anyhow::Error::from)
    }
}

/// The fastest of five runs of `calls` calls, in ns per call.
fn fastest(calls: u32, mut f: impl FnMut() -> usize) -> f64 {
    let mut best = Duration::MAX;
    let mut sink = 0usize;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..calls {
            sink = sink.wrapping_add(std::hint::black_box(f()));
        }
        best = best.min(start.elapsed());
    }
    std::hint::black_box(sink);
    best.as_nanos() as f64 / f64::from(calls)
}

fn entity(len: usize) -> Entity {
    Entity {
        id: "f-bench".to_string(),
        name: "clamp".to_string(),
        qualified_name: "clamp".to_string(),
        kind: EntityKind::Function,
        language: Language::Rust,
        file: "src/lib.rs".to_string(),
        bytes: ByteSpan { start: 0, end: len },
        lines: LineSpan { start: 1, end: 7 },
        is_test: false,
        is_async: false,
        parent: None,
        callees: Vec::new(),
    }
}

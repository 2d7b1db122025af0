//! Seeded choice of start functions for bug generation.

use std::collections::HashSet;

use sera_core::{Entity, SplitMix64};

/// Which functions may start an SVG rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartDraw {
    /// SERA's: functions of the call graph, that is with at least one call edge in or out
    /// (SERA takes the nodes of code2flow's graph, which leaves out functions that connect to
    /// nothing), outside tests, examples, documentation and setup scripts.
    #[default]
    CallGraph,
    /// Every function outside test code, uniformly.
    Uniform,
}

impl StartDraw {
    /// The name used in configs and on the command line (`call-graph`, `uniform`).
    pub fn name(self) -> &'static str {
        match self {
            StartDraw::CallGraph => "call-graph",
            StartDraw::Uniform => "uniform",
        }
    }
}

impl std::str::FromStr for StartDraw {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "call-graph" => Ok(StartDraw::CallGraph),
            "uniform" => Ok(StartDraw::Uniform),
            other => Err(format!("unknown start draw {other:?} (expected call-graph or uniform)")),
        }
    }
}

/// Up to `count` start functions of the kind `draw` allows, drawn uniformly among them without
/// replacement with `seed` (the same stream as [`sample_start_functions`]).
pub fn draw_start_functions(
    entities: &[Entity],
    count: usize,
    seed: u64,
    draw: StartDraw,
) -> Vec<&Entity> {
    match draw {
        StartDraw::Uniform => sample_start_functions(entities, count, seed),
        StartDraw::CallGraph => {
            let called: HashSet<&str> =
                entities.iter().flat_map(|e| e.callees.iter().map(String::as_str)).collect();
            let mut candidates: Vec<&Entity> = entities
                .iter()
                .filter(|e| !e.is_test && !e.file.contains("tests") && !outside_package(&e.file))
                .filter(|e| !e.callees.is_empty() || called.contains(e.qualified_name.as_str()))
                .collect();
            let mut rng = SplitMix64::derive(seed, "sera-code/start-functions");
            rng.shuffle(&mut candidates);
            candidates.truncate(count);
            candidates
        }
    }
}

/// Files that belong to a repository but not to its package: examples, documentation, build
/// and setup scripts.
fn outside_package(file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    let dirs: Vec<&str> = file.split('/').collect();
    let dirs = &dirs[..dirs.len().saturating_sub(1)];
    matches!(name, "setup.py" | "conftest.py" | "noxfile.py" | "build.rs" | "fabfile.py")
        || dirs.iter().any(|d| {
            matches!(
                *d,
                "examples" | "example" | "docs" | "doc" | "benches" | "benchmarks" | "scripts"
            )
        })
}

/// Up to `count` start functions, drawn uniformly without replacement with `seed`.
///
/// Test code is never a start function: neither entities marked `is_test` nor anything in a file
/// whose path contains `tests` (fixtures, helpers and data next to the tests), as in SERA. The
/// draw depends only on the seed and on the candidates in index order, so the same repository and
/// seed give the same functions on every machine.
pub fn sample_start_functions(entities: &[Entity], count: usize, seed: u64) -> Vec<&Entity> {
    let mut candidates: Vec<&Entity> =
        entities.iter().filter(|e| !e.is_test && !e.file.contains("tests")).collect();
    let mut rng = SplitMix64::derive(seed, "sera-code/start-functions");
    rng.shuffle(&mut candidates);
    candidates.truncate(count);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(name: &str, file: &str, callees: &[&str]) -> Entity {
        serde_json::from_value(serde_json::json!({
            "id": format!("f-{name}"), "file": file, "language": "python",
            "name": name, "qualified_name": name, "kind": "function",
            "bytes": {"start": 0, "end": 1}, "lines": {"start": 1, "end": 1},
            "is_test": false, "callees": callees,
        }))
        .expect("an entity")
    }

    #[test]
    fn the_call_graph_draw_takes_connected_package_functions_only() {
        let entities = vec![
            entity("caller", "pkg/a.py", &["callee"]),
            entity("callee", "pkg/b.py", &[]),
            entity("alone", "pkg/c.py", &[]),
            entity("demo", "examples/demo.py", &["callee"]),
            entity("install", "setup.py", &["callee"]),
            entity("helper", "tests/helpers.py", &["callee"]),
        ];
        let mut drawn: Vec<&str> = draw_start_functions(&entities, 10, 1, StartDraw::CallGraph)
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        drawn.sort();
        assert_eq!(drawn, ["callee", "caller"]);
        let uniform = draw_start_functions(&entities, 10, 1, StartDraw::Uniform);
        assert_eq!(uniform.len(), 5, "only the test file is left out");
        assert_eq!("uniform".parse::<StartDraw>(), Ok(StartDraw::Uniform));
        assert!("random".parse::<StartDraw>().is_err());
    }
}

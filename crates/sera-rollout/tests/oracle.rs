//! The oracle on instances over the fixture repositories, in a real sandbox: its rollouts
//! submit, their patches resolve the instance under hard verification (the instance's tests,
//! via `sera-verify`), and their observations are real command output.
//!
//! The instances are built by hand from one simple mutation of each fixture, so that these
//! tests do not depend on the mutation and validation stages.

use std::path::{Path, PathBuf};

use sera_core::{ExitStatus, Instance, Patch, Role, RolloutKind, Trajectory};
use sera_rollout::{Oracle, RolloutConfig, RolloutError, solve_instance};
use sera_sandbox::{Sandbox, SandboxConfig};
use sera_verify::{ValidateConfig, Validator};

fn fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join(name);
    sera_test_support::fixture_into(name, &repo);
    (dir, repo)
}

/// An instance whose bug replaces `from` with `to` in `file`.
fn instance(repo: &Path, file: &str, from: &str, to: &str, spec: Spec) -> Instance {
    let clean = std::fs::read_to_string(repo.join(file)).expect("read");
    assert_eq!(clean.matches(from).count(), 1, "{from} must occur once in {file}");
    let bug_patch = Patch::between(file, &clean, &clean.replacen(from, to, 1));
    Instance {
        id: format!("i-{}", spec.entity.replace([':', '.'], "-")),
        repo: repo.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        commit: None,
        mutant_id: "m-hand-made".into(),
        file: file.into(),
        entity: spec.entity.into(),
        operator: "flip-comparison".into(),
        classes: vec!["off-by-one".into()],
        gold_patch: bug_patch.reverse(),
        bug_patch,
        fail_to_pass: spec.fail_to_pass.iter().map(|s| s.to_string()).collect(),
        pass_to_pass: spec.pass_to_pass.iter().map(|s| s.to_string()).collect(),
        problem_statement: spec.issue.into(),
        test_command: spec.test_command.iter().map(|s| s.to_string()).collect(),
    }
}

struct Spec {
    entity: &'static str,
    fail_to_pass: &'static [&'static str],
    pass_to_pass: &'static [&'static str],
    issue: &'static str,
    test_command: &'static [&'static str],
}

fn rust_instance(repo: &Path) -> Instance {
    instance(
        repo,
        "src/account.rs",
        "amount <= self.available()",
        "amount < self.available()",
        Spec {
            entity: "account::Account::can_withdraw",
            fail_to_pass: &["ledger::account::tests::transfer_of_exact_balance_is_allowed"],
            pass_to_pass: &[
                "ledger::account::tests::transfer_moves_money",
                "ledger::account::tests::transfer_beyond_funds_fails_and_changes_nothing",
            ],
            issue: "Transferring an account's whole balance fails with InsufficientFunds, although the account \
                    has exactly enough money. Moving 1000 out of an account holding 1000 should be allowed.",
            test_command: &["cargo", "test", "--offline", "--no-fail-fast"],
        },
    )
}

fn python_instance(repo: &Path) -> Instance {
    instance(
        repo,
        "inventory/core.py",
        "if quantity > item.quantity:",
        "if quantity >= item.quantity:",
        Spec {
            entity: "inventory.core.Inventory.take",
            fail_to_pass: &["tests/test_core.py::test_take_exact_quantity_is_allowed"],
            pass_to_pass: &[
                "tests/test_core.py::test_take_reduces_quantity",
                "tests/test_core.py::test_take_more_than_available_raises",
            ],
            issue: "Taking the last units of an item raises OutOfStock. With 2 nuts in stock, \
                    `take(\"cd-2\", 2)` should leave 0, but it raises instead.",
            test_command: &[
                "python3",
                "-m",
                "pytest",
                "-v",
                "-rA",
                "-p",
                "no:cacheprovider",
                "--color=no",
            ],
        },
    )
}

fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig::default()).expect("bubblewrap works on the test machine")
}

/// Applies the bug and the trajectory's patch to a fresh scratch and runs the instance's tests.
fn resolves(sandbox: &Sandbox, repo: &Path, instance: &Instance, trajectory: &Trajectory) -> bool {
    let config = ValidateConfig {
        test_command: Some(instance.test_command.clone()),
        cache_dir: None,
        ..Default::default()
    };
    let validator = Validator::new(sandbox, repo, &config).expect("baseline");
    let scratch = sandbox.scratch(repo).expect("scratch");
    scratch.apply(&instance.bug_patch).expect("bug applies");
    scratch.apply(trajectory.patch.as_ref().expect("a patch")).expect("agent patch applies");
    let run = validator.run_tests(&scratch).expect("tests run");
    sera_verify::resolved(instance, &run.report.tests)
}

/// Writes the trajectory to `$SERA_TEST_DUMP/<name>.json` when that variable is set, for a
/// person to read.
fn dump(name: &str, trajectory: &Trajectory) {
    if let Some(dir) = std::env::var_os("SERA_TEST_DUMP") {
        let text = serde_json::to_string_pretty(trajectory).expect("serializes");
        std::fs::write(Path::new(&dir).join(format!("{name}.json")), text).expect("dump");
    }
}

fn observations(trajectory: &Trajectory) -> String {
    trajectory
        .messages
        .iter()
        .filter(|m| m.role == Role::Tool)
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn actions(trajectory: &Trajectory) -> Vec<String> {
    trajectory
        .messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .map(|c| serde_json::to_string(c).unwrap_or_default())
        .collect()
}

#[test]
fn oracle_resolves_the_rust_fixture_instance_with_real_cargo_output() {
    let (_dir, repo) = fixture("rust-demo");
    let instance = rust_instance(&repo);
    let sandbox = sandbox();
    let trajectory = solve_instance(&sandbox, &repo, &instance, &Oracle, &RolloutConfig::default())
        .expect("rollout");
    dump("rust-demo", &trajectory);
    assert_eq!(trajectory.exit_status, ExitStatus::Submitted, "{}", observations(&trajectory));
    assert_eq!(trajectory.patch.as_ref().map(Patch::render), Some(instance.gold_patch.render()));
    let seen = observations(&trajectory);
    // The reproduction really failed and the rerun really passed.
    assert!(seen.contains("transfer_of_exact_balance_is_allowed"), "{seen}");
    assert!(seen.contains("FAILED") || seen.contains("panicked"), "{seen}");
    assert!(seen.contains("test result: ok."), "{seen}");
    assert!(seen.contains("Thank you for your work on this issue."));
    // Paths in observations are the agent's, not the scratch's.
    assert!(!seen.contains("sera-scratch-"), "{seen}");
    assert!(resolves(&sandbox, &repo, &instance, &trajectory));
}

#[test]
fn oracle_resolves_the_python_fixture_instance_with_real_pytest_output() {
    let (_dir, repo) = fixture("py-demo");
    let instance = python_instance(&repo);
    let sandbox = sandbox();
    let config = RolloutConfig { seed: 7, ..RolloutConfig::default() };
    let trajectory = solve_instance(&sandbox, &repo, &instance, &Oracle, &config).expect("rollout");
    dump("py-demo", &trajectory);
    assert_eq!(trajectory.exit_status, ExitStatus::Submitted, "{}", observations(&trajectory));
    let seen = observations(&trajectory);
    assert!(seen.contains("OutOfStock"), "{seen}");
    assert!(seen.contains("1 failed") && seen.contains("1 passed"), "{seen}");
    assert!(resolves(&sandbox, &repo, &instance, &trajectory));
    assert_eq!(trajectory.kind, RolloutKind::Procedural);
    assert!(
        trajectory
            .messages
            .iter()
            .filter(|m| m.role == Role::Assistant)
            .all(|m| m.reasoning.is_some())
    );
}

#[test]
fn oracle_actions_are_fixed_by_the_seed_and_vary_between_seeds() {
    let (_dir, repo) = fixture("py-demo");
    let instance = python_instance(&repo);
    let sandbox = sandbox();
    let run = |seed| {
        let config = RolloutConfig { seed, ..RolloutConfig::default() };
        solve_instance(&sandbox, &repo, &instance, &Oracle, &config).expect("rollout")
    };
    let first = run(1);
    assert_eq!(actions(&first), actions(&run(1)));
    let others: Vec<Trajectory> = (2..6).map(run).collect();
    let distinct: std::collections::BTreeSet<Vec<String>> = others.iter().map(actions).collect();
    assert!(distinct.len() > 1, "four seeds gave the same exploration");
    // Whatever the exploration, the submitted patch is the gold fix: a reproduction script,
    // when the oracle writes one, is run for real and removed before the final submit.
    let mut scripted = 0;
    for trajectory in others.iter().chain([&first]) {
        assert_eq!(trajectory.exit_status, ExitStatus::Submitted);
        assert_eq!(
            trajectory.patch.as_ref().map(Patch::render),
            Some(instance.gold_patch.render())
        );
        if actions(trajectory).iter().any(|a| a.contains("reproduce_issue.py")) {
            scripted += 1;
            let seen = observations(trajectory);
            assert!(seen.contains("1 failed") && seen.contains("1 passed"), "{seen}");
        }
    }
    assert!(scripted > 0, "no seed wrote a reproduction script");
}

#[test]
fn oracle_refuses_svg_rollout_one_with_a_clear_message() {
    use sera_rollout::Teacher;
    let err = Oracle.supports(RolloutKind::SvgFirst).expect_err("refused");
    assert!(err.contains("cannot do SVG rollout 1"), "{err}");
    assert!(Oracle.supports(RolloutKind::Procedural).is_ok());
    let _ = RolloutError::Unsupported(err);
}

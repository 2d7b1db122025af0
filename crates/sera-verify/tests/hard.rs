//! Hard verification, end to end through real processes (no mocks).
//!
//! - `parsers`: the cargo and pytest parsers on output captured from real runs
//!   (`tests/data/*.log`).
//! - `rust_fixture`: hand-written mutants of `tests/data/rust-demo` validated with cargo in a
//!   bubblewrap sandbox; all outcomes come from one validation run sharing one warm scratch.
//! - `python_fixture`: the same for `tests/data/py-demo` with pytest.
//! - `flaky`: a repository with an always-failing and a flaky test.
//!
//! Needs bubblewrap, cargo and python3 with pytest (`.ci/run` installs them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sera_core::{ByteSpan, Language, Mutant, Patch, TestStatus};
use sera_sandbox::{Sandbox, SandboxConfig};
use sera_verify::{
    Cargo, Outcome, Pytest, RejectReason, TestRunner, ValidateConfig, Validator, resolved,
};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(name)
}

/// Copies a fixture repository to a temporary directory, naming its manifest `Cargo.toml`.
fn fixture(name: &str) -> tempfile::TempDir {
    sera_test_support::fixture(name)
}

/// A mutant replacing `old` by `new` (which must occur once) in `file` of `repo`.
fn mutant(repo: &Path, name: &str, file: &str, old: &str, new: &str) -> Mutant {
    let text = std::fs::read_to_string(repo.join(file)).expect("fixture file");
    assert_eq!(text.matches(old).count(), 1, "{old:?} must occur once in {file}");
    let start = text.find(old).expect("found above");
    let patch = Patch::between(file, &text, &text.replacen(old, new, 1));
    Mutant {
        id: format!("m-{name}"),
        repo: "demo".into(),
        commit: None,
        file: file.into(),
        language: if file.ends_with(".py") { Language::Python } else { Language::Rust },
        entity: name.into(),
        entity_id: format!("f-{name}"),
        operator: "hand-written".into(),
        classes: vec!["off-by-one".into()],
        description: format!("replace `{old}` with `{new}`"),
        span: ByteSpan { start, end: start + old.len() },
        patch,
    }
}

fn sandbox() -> Sandbox {
    Sandbox::new(SandboxConfig::default())
        .expect("bubblewrap works here (apt-get install bubblewrap)")
}

fn config(cache: &Path, jobs: usize) -> ValidateConfig {
    ValidateConfig { jobs, cache_dir: Some(cache.to_path_buf()), ..ValidateConfig::default() }
}

/// Validates `mutants` and returns the outcomes by mutant id, with the validator.
fn validate_all(validator: &Validator, mutants: &[Mutant]) -> BTreeMap<String, Outcome> {
    let mut outcomes = BTreeMap::new();
    let funnel = validator
        .validate::<sera_verify::VerifyError, _>(mutants, |index, outcome| {
            outcomes.insert(mutants[index].id.clone(), outcome);
            Ok(())
        })
        .expect("validation runs");
    assert_eq!(funnel.candidates, mutants.len());
    outcomes
}

fn kept<'a>(outcomes: &'a BTreeMap<String, Outcome>, id: &str) -> &'a sera_core::Instance {
    match &outcomes[id] {
        Outcome::Kept(instance) => instance,
        other => panic!("{id} was not kept: {other:?}"),
    }
}

fn rejected(outcomes: &BTreeMap<String, Outcome>, id: &str) -> RejectReason {
    match &outcomes[id] {
        Outcome::Rejected(rejection) => rejection.reason,
        other => panic!("{id} was kept: {other:?}"),
    }
}

mod parsers {
    use super::*;
    use TestStatus::*;

    /// Parses a captured log and checks the number of passing tests, every other status, and
    /// that the excerpt of `excerpt.0` contains `excerpt.1`.
    fn check(
        runner: &dyn TestRunner,
        log: &str,
        passed: usize,
        others: &[(&str, TestStatus)],
        excerpt: Option<(&str, &str)>,
    ) {
        let text =
            std::fs::read_to_string(data("").join("../../crates/sera-verify/tests/data").join(log))
                .expect("captured log");
        let parsed = runner.parse(&text);
        let passing = parsed.tests.values().filter(|s| s.is_pass()).count();
        let not_passing: Vec<(&str, TestStatus)> = parsed
            .tests
            .iter()
            .filter(|(_, s)| !s.is_pass())
            .map(|(k, s)| (k.as_str(), *s))
            .collect();
        assert_eq!(
            (passing, not_passing.as_slice()),
            (passed, others),
            "{log}: {:#?}",
            parsed.tests
        );
        if let Some((key, needle)) = excerpt {
            let text = parsed
                .failures
                .get(key)
                .unwrap_or_else(|| panic!("{log}: no excerpt for {key}: {:?}", parsed.failures));
            assert!(text.contains(needle), "{log}: {text}");
            assert!(
                !text.contains("stack backtrace") && !text.contains("rust_begin_unwind"),
                "{text}"
            );
        }
    }

    #[test]
    fn cargo_keys_tests_by_binary_and_reads_both_failures() {
        let others = [
            ("integration::mean_and_median", Failed),
            ("ledger::account::tests::transfer_of_exact_balance_is_allowed", Failed),
        ];
        check(
            &Cargo,
            "cargo-ledger-two-failures.log",
            14,
            &others,
            Some(("integration::mean_and_median", "  left: Some(3)\n right: Some(2)")),
        );
        check(
            &Cargo,
            "cargo-ledger-two-failures.log",
            14,
            &others,
            Some((others[1].0, "InsufficientFunds")),
        );
    }

    #[test]
    fn pytest_reads_node_ids_skips_xfails_and_failure_lines() {
        let others = [
            ("tests/test_core.py::test_take_exact_quantity_is_allowed", Failed),
            ("tests/test_extra.py::test_s", Skipped),
            ("tests/test_extra.py::test_x", Xfail),
        ];
        let excerpt =
            (others[0].0, "E           inventory.core.OutOfStock: CD-2: wanted 2, have 2");
        check(&Pytest, "pytest-inventory-one-failure.log", 19, &others, Some(excerpt));
        // The frame of the code under test (which shows the bug) is not quoted.
        let text = std::fs::read_to_string(data(
            "../../crates/sera-verify/tests/data/pytest-inventory-one-failure.log",
        ))
        .unwrap();
        let parsed = Pytest.parse(&text);
        assert!(!parsed.failures[others[0].0].contains("quantity >= item.quantity"));
    }

    #[test]
    fn pytest_collection_errors_are_errors_of_the_file() {
        check(
            &Pytest,
            "pytest-inventory-collection-error.log",
            0,
            &[("tests/test_broken.py", Error)],
            None,
        );
    }

    #[test]
    fn result_lines_inside_captured_output_are_not_results() {
        let log = "     Running unittests src/lib.rs (target/debug/deps/x-0123456789abcdef)\n\nrunning 1 test\n\
                   test real ... FAILED\n\nfailures:\n\n---- real stdout ----\ntest fake ... ok\n\
                   thread 'real' panicked at src/lib.rs:1:1:\nboom\n\nfailures:\n    real\n\n\
                   test result: FAILED. 0 passed; 1 failed\n";
        let parsed = Cargo.parse(log);
        assert_eq!(
            parsed.tests.into_iter().collect::<Vec<_>>(),
            vec![("x::real".to_string(), Failed)]
        );
        assert_eq!(parsed.failures["x::real"], "thread 'real' panicked at src/lib.rs:1:1:\nboom");
    }
}

mod rust_fixture {
    use super::*;

    struct Run {
        outcomes: BTreeMap<String, Outcome>,
        cached_second_time: bool,
        _repo: tempfile::TempDir,
    }

    /// One validation run over every hand-written mutant, on two jobs.
    fn run() -> &'static Run {
        static RUN: OnceLock<Run> = OnceLock::new();
        RUN.get_or_init(|| {
            let repo = fixture("rust-demo");
            let cache = tempfile::tempdir().expect("cache dir");
            let p = repo.path();
            let mutants = vec![
                mutant(
                    p,
                    "median",
                    "src/stats.rs",
                    "sorted[(sorted.len() - 1) / 2]",
                    "sorted[sorted.len() / 2]",
                ),
                mutant(
                    p,
                    "can_withdraw",
                    "src/account.rs",
                    "amount <= self.available()",
                    "amount < self.available()",
                ),
                mutant(
                    p,
                    "clamp",
                    "src/stats.rs",
                    "} else if value > high {",
                    "} else if value >= high {",
                ),
                mutant(
                    p,
                    "mean",
                    "src/stats.rs",
                    "Some(sum as f64 / values.len() as f64)",
                    "Some(sum / values.len())",
                ),
                mutant(
                    p,
                    "loop",
                    "src/stats.rs",
                    "    let mut total = 0;\n",
                    "    let mut total = 0;\n    loop {}\n",
                ),
            ];
            let mut stale = mutants[0].clone();
            stale.id = "m-stale".into();
            stale.patch =
                Patch::between("src/stats.rs", "fn nothing_like_this() {}\n", "fn other() {}\n");
            let mut all = mutants;
            all.push(stale);
            let mut config = config(cache.path(), 2);
            // The infinite loop must time out quickly; the suite itself takes well under 1 s.
            config.min_timeout = std::time::Duration::from_secs(5);
            let validator = Validator::new(&sandbox(), p, &config).expect("baseline");
            assert!(!validator.baseline_was_cached());
            assert_eq!(validator.baseline().passing().count(), 16, "{:?}", validator.baseline());
            assert!(validator.baseline().flaky.is_empty());
            let outcomes = validate_all(&validator, &all);
            let again = Validator::new(&sandbox(), p, &config).expect("baseline again");
            Run { outcomes, cached_second_time: again.baseline_was_cached(), _repo: repo }
        })
    }

    #[test]
    fn mutant_caught_by_an_integration_test_is_kept_with_its_lists() {
        let instance = kept(&run().outcomes, "m-median");
        assert_eq!(instance.fail_to_pass, vec!["integration::mean_and_median"]);
        assert_eq!(instance.pass_to_pass.len(), 15);
        assert!(
            instance
                .pass_to_pass
                .contains(&"ledger::account::tests::transfer_moves_money".to_string())
        );
        assert_eq!(instance.gold_patch, instance.bug_patch.reverse());
        assert_eq!(instance.classes, vec!["off-by-one"]);
        let text = &instance.problem_statement;
        assert!(text.contains("`integration::mean_and_median`"), "{text}");
        assert!(text.contains("left: Some(3)"), "{text}");
        // The issue quotes the failing test, never the mutated code.
        assert!(!text.contains("sorted.len()"), "{text}");
        println!("{text}");
    }

    #[test]
    fn mutant_caught_by_a_unit_test_names_the_library_binary() {
        let instance = kept(&run().outcomes, "m-can_withdraw");
        assert_eq!(
            instance.fail_to_pass,
            vec!["ledger::account::tests::transfer_of_exact_balance_is_allowed"]
        );
        assert!(
            instance.problem_statement.contains("InsufficientFunds"),
            "{}",
            instance.problem_statement
        );
    }

    #[test]
    fn mutant_no_test_notices_is_rejected_as_not_caught() {
        assert_eq!(rejected(&run().outcomes, "m-clamp"), RejectReason::NotCaught);
    }

    #[test]
    fn mutant_that_does_not_compile_is_unviable() {
        assert_eq!(rejected(&run().outcomes, "m-mean"), RejectReason::Unviable);
        let Outcome::Rejected(rejection) = &run().outcomes["m-mean"] else { unreachable!() };
        assert!(rejection.detail.contains("error[E0"), "{}", rejection.detail);
    }

    #[test]
    fn mutant_that_loops_forever_times_out() {
        assert_eq!(rejected(&run().outcomes, "m-loop"), RejectReason::Timeout);
    }

    #[test]
    fn patch_that_does_not_apply_is_rejected() {
        assert_eq!(rejected(&run().outcomes, "m-stale"), RejectReason::PatchDoesNotApply);
    }

    #[test]
    fn baseline_is_cached_per_repository_and_command() {
        assert!(run().cached_second_time);
    }
}

mod python_fixture {
    use super::*;

    #[test]
    fn pytest_mutants_are_kept_or_rejected_and_the_gold_patch_resolves() {
        let repo = fixture("py-demo");
        let cache = tempfile::tempdir().expect("cache dir");
        let p = repo.path();
        let mutants = vec![
            mutant(
                p,
                "take",
                "inventory/core.py",
                "if quantity > item.quantity:",
                "if quantity >= item.quantity:",
            ),
            mutant(
                p,
                "format",
                "inventory/pricing.py",
                "sign = \"-\" if cents < 0 else \"\"",
                "sign = \"-\" if cents <= 0 else \"\"",
            ),
        ];
        let sandbox = sandbox();
        let validator = Validator::new(&sandbox, p, &config(cache.path(), 1)).expect("baseline");
        assert_eq!(validator.runner().name(), "pytest");
        assert_eq!(validator.baseline().passing().count(), 20);
        let outcomes = validate_all(&validator, &mutants);
        let instance = kept(&outcomes, "m-take");
        assert_eq!(
            instance.fail_to_pass,
            vec!["tests/test_core.py::test_take_exact_quantity_is_allowed"]
        );
        assert_eq!(instance.pass_to_pass.len(), 19);
        assert!(
            instance.problem_statement.contains("OutOfStock: CD-2: wanted 2, have 2"),
            "{}",
            instance.problem_statement
        );
        assert_eq!(rejected(&outcomes, "m-format"), RejectReason::NotCaught);

        // Grading: the bug fails the instance, the bug plus its gold patch resolves it.
        let scratch = sandbox.scratch(p).expect("scratch");
        scratch.apply(&instance.bug_patch).expect("bug applies");
        let run = validator.run_tests(&scratch).expect("runs");
        assert!(!resolved(instance, &run.report.tests));
        scratch.apply(&instance.gold_patch).expect("gold applies");
        let run = validator.run_tests(&scratch).expect("runs");
        assert!(resolved(instance, &run.report.tests));
    }
}

mod flaky {
    use super::*;

    const MODULE: &str = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n";
    /// `test_flaky` passes on odd runs only (it counts runs in a file under $HOME, which
    /// persists across runs in a scratch) and also checks `mul`.
    const TESTS: &str = r#"import os
from mod import add, mul, sub


def test_add():
    assert add(1, 2) == 3


def test_sub():
    assert sub(3, 1) == 2


def test_always_fails():
    assert add(1, 1) == 3


def test_flaky():
    path = os.path.join(os.environ["HOME"], "runs")
    count = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(count))
    assert mul(2, 3) == 6
    assert count % 2 == 1
"#;

    #[test]
    fn failing_and_flaky_tests_are_never_fail_to_pass() {
        let repo = tempfile::tempdir().expect("repo");
        std::fs::write(repo.path().join("mod.py"), MODULE).unwrap();
        std::fs::create_dir(repo.path().join("tests")).unwrap();
        std::fs::write(repo.path().join("tests/test_mod.py"), TESTS).unwrap();
        std::fs::write(repo.path().join("pytest.ini"), "[pytest]\npythonpath = .\n").unwrap();
        let cache = tempfile::tempdir().expect("cache dir");
        let validator =
            Validator::new(&sandbox(), repo.path(), &config(cache.path(), 1)).expect("baseline");
        let baseline = validator.baseline();
        assert_eq!(baseline.flaky, vec!["tests/test_mod.py::test_flaky"]);
        assert_eq!(baseline.tests["tests/test_mod.py::test_always_fails"], TestStatus::Failed);

        let mutants = vec![
            mutant(repo.path(), "add", "mod.py", "return a + b", "return a - b"),
            mutant(repo.path(), "mul", "mod.py", "return a * b", "return a + b"),
        ];
        let outcomes = validate_all(&validator, &mutants);
        let instance = kept(&outcomes, "m-add");
        assert_eq!(instance.fail_to_pass, vec!["tests/test_mod.py::test_add"]);
        assert_eq!(instance.pass_to_pass, vec!["tests/test_mod.py::test_sub"]);
        assert_eq!(rejected(&outcomes, "m-mul"), RejectReason::FlakyOnly);
    }
}

/// Captured logs of crashing runs, read by the runners' crash hooks.
mod crash_logs {
    use super::*;
    use TestStatus::*;
    use sera_verify::Rerun;

    fn log(name: &str) -> String {
        std::fs::read_to_string(data("../../crates/sera-verify/tests/data").join(name))
            .expect("captured log")
    }

    fn rerun(tests: &[&str]) -> Rerun {
        Rerun { command: Vec::new(), tests: tests.iter().map(|t| t.to_string()).collect() }
    }

    #[test]
    fn an_aborted_test_binary_is_a_crash_that_keeps_the_results_it_printed() {
        let text = log("cargo-ledger-abort.log");
        assert!(Cargo.crashed(&text));
        let parsed = Cargo.parse(&text);
        assert_eq!(parsed.tests.len(), 7, "{:#?}", parsed.tests);
        assert!(parsed.tests.values().all(|s| *s == Passed));
        let text = log("cargo-ledger-stack-overflow.log");
        assert!(Cargo.crashed(&text));
        let parsed = Cargo.parse(&text);
        assert_eq!(parsed.tests.keys().filter(|k| k.starts_with("integration::")).count(), 3);
    }

    #[test]
    fn runs_that_end_normally_are_not_crashes() {
        assert!(!Cargo.crashed(&log("cargo-ledger-two-failures.log")));
        assert!(!Cargo.crashed(&log("cargo-workspace.log")));
        assert!(!Pytest.crashed(&log("pytest-inventory-one-failure.log")));
        assert!(!Pytest.crashed(&log("pytest-inventory-os-exit-rerun.log")));
    }

    #[test]
    fn a_one_thread_rerun_pins_the_abort_on_the_test_left_unfinished() {
        let asked = [
            "ledger::tests::formats_positive_and_negative_cents",
            "ledger::account::tests::transfer_moves_money",
        ];
        let read = Cargo.read_rerun(&log("cargo-ledger-abort-isolated.log"), &rerun(&asked));
        assert_eq!(
            read.parsed.tests.into_iter().collect::<Vec<_>>(),
            [(asked[1].to_string(), Passed)]
        );
        assert_eq!(read.died_in.len(), 1, "{:?}", read.died_in);
        assert_eq!(read.died_in[0].0, asked[0]);
        assert!(read.died_in[0].1.contains("(signal: 6, SIGABRT"), "{}", read.died_in[0].1);
    }

    #[test]
    fn a_one_thread_rerun_pins_a_stack_overflow_and_quotes_it() {
        let asked = ["integration::mean_and_median", "integration::parses_a_small_ledger"];
        let read =
            Cargo.read_rerun(&log("cargo-ledger-stack-overflow-isolated.log"), &rerun(&asked));
        assert!(read.parsed.tests.is_empty(), "{:?}", read.parsed.tests);
        let (key, how) = &read.died_in[0];
        assert_eq!(key, asked[0]);
        assert!(how.contains("has overflowed its stack"), "{how}");
        assert!(how.contains("fatal runtime error: stack overflow"), "{how}");
        assert!(!how.contains("Caused by"), "{how}");
    }

    #[test]
    fn cargo_reruns_the_missing_tests_on_one_thread_by_exact_name() {
        let words = |line: &str| line.split(' ').map(String::from).collect::<Vec<_>>();
        let missing = ["ledger::tests::b".to_string(), "integration::a".to_string()];
        let plan = Cargo.isolate(
            &words("cargo test --tests --offline -- --test-threads 4"),
            &missing,
            &[],
        );
        assert_eq!(plan.len(), 1);
        assert_eq!(
            plan[0].command,
            words("cargo test --tests --offline -- --test-threads=1 --exact a tests::b")
        );
        // Doc tests are their own processes: nothing to isolate.
        assert!(Cargo.isolate(&words("cargo test --doc"), &["x-doc::f".into()], &[]).is_empty());
    }

    #[test]
    fn pytest_that_exits_mid_run_is_a_crash_of_the_test_it_announced() {
        let text = log("pytest-inventory-os-exit.log");
        assert!(Pytest.crashed(&text));
        assert_eq!(Pytest.parse(&text).tests.len(), 16);
        let culprit = "tests/test_pricing.py::test_bulk_price_tiers";
        let read = Pytest.read_rerun(&text, &rerun(&[culprit]));
        assert_eq!(read.died_in.len(), 1);
        assert_eq!(read.died_in[0].0, culprit);
        let plan = Pytest.isolate(
            &["pytest".to_string(), "-v".to_string()],
            &["tests/t.py::b".to_string()],
            &["tests/t.py::a".to_string(), "tests/broken.py".to_string()],
        );
        assert_eq!(
            plan[0].command,
            ["pytest", "-v", "--continue-on-collection-errors", "--deselect=tests/t.py::a"]
        );
    }

    #[test]
    fn tests_of_a_file_that_fails_to_collect_error_with_it() {
        assert!(Pytest.crashed(&log("pytest-inventory-collection-error.log")));
        let asked =
            ["tests/test_core.py::test_item_value", "tests/test_pricing.py::test_total_price"];
        let read = Pytest
            .read_rerun(&log("pytest-inventory-collection-error-continued.log"), &rerun(&asked));
        assert_eq!(read.parsed.tests[asked[0]], Error);
        assert_eq!(read.parsed.tests[asked[1]], Error);
        assert!(read.died_in.is_empty());
    }

    #[test]
    fn workspace_tests_are_keyed_by_package() {
        let parsed = Cargo.parse(&log("cargo-workspace.log"));
        let keys: Vec<&str> = parsed.tests.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "alpha/alpha-doc::crates/alpha/src/lib.rs - larger",
                "alpha/alpha::tests::larger_picks_the_larger_value",
                "alpha/alpha::tests::triangle_of_four_is_ten",
                "alpha/integration::helpers_agree",
                "alpha/integration::triangle_of_zero_is_zero",
                "beta-core/beta_core-doc::crates/beta/src/lib.rs - word_count",
                "beta-core/beta_core::tests::capitalize_keeps_the_rest",
                "beta-core/beta_core::tests::word_count_ignores_extra_spaces",
                "beta-core/integration::empty_text_has_no_words",
                "beta-core/integration::helpers_agree",
            ]
        );
    }
}

mod crashing_mutants {
    use super::*;

    #[test]
    fn rust_mutants_that_abort_a_test_binary_are_kept_with_the_crashed_test_failing() {
        let repo = fixture("rust-demo");
        let cache = tempfile::tempdir().expect("cache dir");
        let p = repo.path();
        let mutants = vec![
            // `std::process::abort` in a path one unit test takes: the library's test binary
            // dies with SIGABRT while its other tests are still running.
            mutant(
                p,
                "abort",
                "src/lib.rs",
                "let sign = if cents < 0 {",
                "let sign = if cents == 0 { std::process::abort() } else if cents < 0 {",
            ),
            // Unbounded recursion: a stack overflow in the integration test binary.
            mutant(
                p,
                "overflow",
                "src/stats.rs",
                "pub fn median(values: &[i64]) -> Option<i64> {\n",
                "pub fn median(values: &[i64]) -> Option<i64> {\n    if values.len() < 1000 {\n        return median(values);\n    }\n",
            ),
        ];
        let validator = Validator::new(&sandbox(), p, &config(cache.path(), 1)).expect("baseline");
        let mut outcomes = BTreeMap::new();
        let funnel = validator
            .validate::<sera_verify::VerifyError, _>(&mutants, |index, outcome| {
                outcomes.insert(mutants[index].id.clone(), outcome);
                Ok(())
            })
            .expect("validation runs");
        let aborted = kept(&outcomes, "m-abort");
        assert_eq!(aborted.fail_to_pass, ["ledger::tests::formats_positive_and_negative_cents"]);
        // Decided by the library's unit tests: the other eight, all rerun to a result.
        assert_eq!(aborted.pass_to_pass.len(), 8, "{:?}", aborted.pass_to_pass);
        assert!(
            aborted
                .pass_to_pass
                .contains(&"ledger::account::tests::non_positive_amounts_are_rejected".into())
        );
        assert!(aborted.problem_statement.contains("SIGABRT"), "{}", aborted.problem_statement);
        let overflow = kept(&outcomes, "m-overflow");
        assert_eq!(overflow.fail_to_pass, ["integration::mean_and_median"]);
        assert_eq!(overflow.pass_to_pass.len(), 15, "{:?}", overflow.pass_to_pass);
        assert!(
            overflow.problem_statement.contains("has overflowed its stack"),
            "{}",
            overflow.problem_statement
        );
        assert_eq!(funnel.crashed, 2);
        assert!(funnel.summary().ends_with("kept 2 (2 by a crash)"), "{}", funnel.summary());
    }

    #[test]
    fn python_mutant_that_exits_the_interpreter_is_kept_with_the_test_that_ran() {
        let repo = fixture("py-demo");
        let cache = tempfile::tempdir().expect("cache dir");
        let p = repo.path();
        let old = "def bulk_price(price_cents, quantity, tiers=((10, 5), (50, 10))):\n";
        let new = format!("{old}    if quantity >= 50:\n        import os\n        os._exit(1)\n");
        let mutants = vec![mutant(p, "exit", "inventory/pricing.py", old, &new)];
        let validator = Validator::new(&sandbox(), p, &config(cache.path(), 1)).expect("baseline");
        let outcomes = validate_all(&validator, &mutants);
        let instance = kept(&outcomes, "m-exit");
        assert_eq!(instance.fail_to_pass, ["tests/test_pricing.py::test_bulk_price_tiers"]);
        // The three tests pytest never reached are rerun and pass.
        assert_eq!(instance.pass_to_pass.len(), 19, "{:?}", instance.pass_to_pass);
        assert!(
            instance.pass_to_pass.contains(&"tests/test_pricing.py::test_fetch_price".into()),
            "{:?}",
            instance.pass_to_pass
        );
    }

    #[test]
    fn python_mutant_that_breaks_one_test_file_at_import_fails_only_its_tests() {
        let repo = tempfile::tempdir().expect("repo");
        let p = repo.path();
        std::fs::write(p.join("shapes.py"), "def area(w, h):\n    return w * h\n").unwrap();
        std::fs::write(p.join("words.py"), "def shout(text):\n    return text.upper()\n").unwrap();
        std::fs::create_dir(p.join("tests")).unwrap();
        std::fs::write(
            p.join("tests/test_shapes.py"),
            "from shapes import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n",
        )
        .unwrap();
        std::fs::write(
            p.join("tests/test_words.py"),
            "from words import shout\n\n\ndef test_shout():\n    assert shout('a') == 'A'\n\n\n\
             def test_shout_empty():\n    assert shout('') == ''\n",
        )
        .unwrap();
        std::fs::write(p.join("pytest.ini"), "[pytest]\npythonpath = .\n").unwrap();
        let cache = tempfile::tempdir().expect("cache dir");
        let validator = Validator::new(&sandbox(), p, &config(cache.path(), 1)).expect("baseline");
        let mutants = vec![mutant(
            p,
            "import",
            "shapes.py",
            "def area(w, h):\n",
            "raise ImportError('broken')\n\n\ndef area(w, h):\n",
        )];
        let outcomes = validate_all(&validator, &mutants);
        let instance = kept(&outcomes, "m-import");
        assert_eq!(instance.fail_to_pass, ["tests/test_shapes.py::test_area"]);
        assert_eq!(
            instance.pass_to_pass,
            ["tests/test_words.py::test_shout", "tests/test_words.py::test_shout_empty"]
        );
    }

    #[test]
    fn a_crash_on_the_clean_repository_is_an_error_naming_the_command() {
        let repo = tempfile::tempdir().expect("repo");
        let p = repo.path();
        std::fs::write(
            p.join("test_dies.py"),
            "import os\n\n\ndef test_fine():\n    assert True\n\n\ndef test_zz_dies():\n    os._exit(3)\n",
        )
        .unwrap();
        let cache = tempfile::tempdir().expect("cache dir");
        let err = Validator::new(&sandbox(), p, &config(cache.path(), 1)).expect_err("crashes");
        let text = err.to_string();
        assert!(text.contains("python3 -m pytest"), "{text}");
        assert!(text.contains("cut short on the clean code"), "{text}");
        assert!(text.contains("test_dies.py::test_zz_dies"), "{text}");
    }
}

mod layouts {
    use super::*;

    /// The workspace fixture (`fixture` names every member's manifest `Cargo.toml`).
    fn workspace() -> tempfile::TempDir {
        fixture("rust-workspace")
    }

    #[test]
    fn every_workspace_member_is_tested_and_keys_name_the_package() {
        let repo = workspace();
        let cache = tempfile::tempdir().expect("cache dir");
        let p = repo.path();
        let validator = Validator::new(&sandbox(), p, &config(cache.path(), 1)).expect("baseline");
        assert!(validator.test_command().contains(&"--workspace".to_string()));
        let keys: Vec<&str> = validator.baseline().passing().collect();
        assert_eq!(keys.len(), 10, "{keys:?}");
        assert!(keys.contains(&"alpha/integration::helpers_agree"), "{keys:?}");
        assert!(keys.contains(&"beta-core/integration::helpers_agree"), "{keys:?}");
        assert!(keys.contains(&"beta-core/beta_core-doc::crates/beta/src/lib.rs - word_count"));

        let mutants = vec![mutant(
            p,
            "word_count",
            "crates/beta/src/lib.rs",
            "text.split_whitespace().count()",
            "text.split(' ').count()",
        )];
        let outcomes = validate_all(&validator, &mutants);
        let instance = kept(&outcomes, "m-word_count");
        assert_eq!(
            instance.fail_to_pass,
            ["beta-core/beta_core::tests::word_count_ignores_extra_spaces"]
        );
        assert_eq!(
            instance.pass_to_pass,
            [
                "alpha/alpha::tests::larger_picks_the_larger_value",
                "alpha/alpha::tests::triangle_of_four_is_ten",
                "beta-core/beta_core::tests::capitalize_keeps_the_rest",
            ]
        );
    }

    #[test]
    fn test_files_at_the_root_of_a_flat_package_are_run_by_pytest() {
        let repo = tempfile::tempdir().expect("repo");
        let p = repo.path();
        std::fs::write(p.join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
        std::fs::write(
            p.join("test_calc.py"),
            "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
        )
        .unwrap();
        std::fs::write(p.join("calc_test.py"), "def test_zero():\n    assert 0 == 0\n").unwrap();
        assert!(Pytest.detects(p));
        let cache = tempfile::tempdir().expect("cache dir");
        let validator = Validator::new(&sandbox(), p, &config(cache.path(), 1)).expect("baseline");
        assert_eq!(validator.runner().name(), "pytest");
        let keys: Vec<&str> = validator.baseline().passing().collect();
        assert_eq!(keys, ["calc_test.py::test_zero", "test_calc.py::test_add"]);
    }

    #[test]
    fn a_repository_without_tests_says_where_tests_were_looked_for() {
        let repo = tempfile::tempdir().expect("repo");
        std::fs::write(repo.path().join("calc.py"), "x = 1\n").unwrap();
        let cache = tempfile::tempdir().expect("cache dir");
        let err = Validator::new(&sandbox(), repo.path(), &config(cache.path(), 1))
            .expect_err("no runner");
        assert!(err.to_string().contains("test_*.py or *_test.py file at the root"), "{err}");
    }
}

//! The environment stage on the fixture repositories, through real processes: `cargo fetch`,
//! real virtual environments and `pip install`, offline (the fixtures need nothing from a
//! registry; `offline = true` is what an air-gapped machine sets too).
//!
//! - `rust`: a crate with a path dev-dependency and no lock file, the cache, a pinned toolchain
//!   this machine lacks, a failing setup command.
//! - `python`: a `src/` layout package, and a package whose tests need a pytest plugin that is
//!   installed from a wheel built here.
//!
//! Needs bubblewrap, cargo and python3 with pytest and setuptools (`.ci/run` installs them).

use std::path::Path;
use std::time::Duration;

use sera_env::{EnvConfig, EnvError, Environment, prepare};
use sera_sandbox::{CommandSpec, Isolation, Output, Sandbox, SandboxConfig};

fn offline(cache: &Path) -> EnvConfig {
    EnvConfig { offline: true, ..EnvConfig::new(cache) }
}

fn quiet(_: &str) {}

/// Runs `script` in a fresh bubblewrap scratch of `repo` that uses `environment` (if any).
fn run_in(repo: &Path, environment: Option<&Environment>, script: &str) -> Output {
    let mut config = SandboxConfig::default();
    if let Some(environment) = environment {
        environment.apply(&mut config);
    }
    let sandbox = Sandbox::new(config).expect("bubblewrap works here");
    let scratch = sandbox.scratch(repo).expect("scratch");
    let spec = CommandSpec::shell(script).timeout(Duration::from_secs(600)).merge_output(true);
    scratch.run(&spec).expect("runs")
}

mod rust {
    use super::*;

    #[test]
    fn a_fetched_lock_file_reaches_every_later_copy_and_the_offline_tests_pass() {
        let repo = sera_test_support::fixture("rust-devdep");
        let cache = tempfile::tempdir().expect("tempdir");
        let mut lines = Vec::new();
        let prepared =
            prepare(repo.path(), &offline(cache.path()), &mut |line| lines.push(line.to_string()))
                .expect("prepares");
        assert!(!prepared.cached);
        let environment = &prepared.environment;
        assert_eq!(environment.ecosystems, ["cargo"]);
        assert_eq!(environment.steps.len(), 1, "{:?}", environment.steps);
        assert!(lines.iter().any(|l| l.contains("cargo fetch")), "{lines:?}");
        let overlay = environment.overlay.as_ref().expect("the generated lock file is kept");
        let lock = std::fs::read_to_string(overlay.join("Cargo.lock")).expect("Cargo.lock");
        assert!(lock.contains("name = \"meter-testkit\""), "{lock}");
        assert!(!repo.path().join("Cargo.lock").exists(), "the repository itself is untouched");

        let out = run_in(repo.path(), Some(environment), "cargo test --offline 2>&1 | tail -n 30");
        assert!(out.stdout.contains("test result: ok. 3 passed"), "{}", out.stdout);

        // The same inputs read the stored environment back; a changed manifest makes a new one.
        let again = prepare(repo.path(), &offline(cache.path()), &mut quiet).expect("prepares");
        assert!(again.cached);
        assert_eq!(again.environment, prepared.environment);
        let manifest = repo.path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).expect("manifest");
        std::fs::write(&manifest, text.replace("0.1.0", "0.1.1")).expect("write");
        let changed = prepare(repo.path(), &offline(cache.path()), &mut quiet).expect("prepares");
        assert!(!changed.cached);
        assert_ne!(changed.environment.key, prepared.environment.key);
    }

    #[test]
    fn a_pinned_toolchain_that_is_not_installed_is_named_with_what_to_do() {
        let repo = sera_test_support::fixture("rust-demo");
        std::fs::write(
            repo.path().join("rust-toolchain.toml"),
            "[toolchain]\nchannel = \"1.2.3\"\n",
        )
        .expect("write");
        let cache = tempfile::tempdir().expect("tempdir");
        let err = prepare(repo.path(), &offline(cache.path()), &mut quiet).unwrap_err();
        assert!(matches!(err, EnvError::Toolchain { .. }), "{err}");
        assert!(err.is_environment());
        let message = err.to_string();
        for part in ["rust-toolchain.toml", "`1.2.3`", "rustup toolchain install 1.2.3", "stable"] {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
        // Overriding the toolchain, as the message says, lets it through.
        let mut config = offline(cache.path());
        config.vars.insert("RUSTUP_TOOLCHAIN".into(), "stable".into());
        prepare(repo.path(), &config, &mut quiet).expect("prepares with the override");
    }

    #[test]
    fn a_failing_step_names_itself_its_command_and_its_output() {
        let repo = sera_test_support::fixture("rust-demo");
        let cache = tempfile::tempdir().expect("tempdir");
        let config = EnvConfig {
            detect: false,
            setup: vec!["echo fetching; echo the mirror is down >&2; exit 7".into()],
            ..offline(cache.path())
        };
        let err = prepare(repo.path(), &config, &mut quiet).unwrap_err();
        let EnvError::Step(failure) = &err else { panic!("{err}") };
        assert_eq!((failure.step.as_str(), failure.status.as_str()), ("setup 1", "exit code 7"));
        assert_eq!(failure.tail, "fetching\nthe mirror is down");
        assert!(std::fs::read_to_string(&failure.log).expect("log").contains("the mirror is down"));
        let message = err.to_string();
        assert!(message.contains("[env] setup"), "{message}");
        // Nothing half-made is reused: the next attempt runs again.
        assert!(prepare(repo.path(), &config, &mut quiet).is_err());
    }

    #[test]
    fn setup_commands_leave_their_files_for_every_copy() {
        let repo = sera_test_support::fixture("rust-demo");
        let cache = tempfile::tempdir().expect("tempdir");
        let config = EnvConfig {
            detect: false,
            setup: vec!["mkdir -p generated && echo 42 > generated/answer.txt".into()],
            isolation: Isolation::Bwrap,
            ..offline(cache.path())
        };
        let prepared = prepare(repo.path(), &config, &mut quiet).expect("prepares");
        assert!(prepared.environment.ecosystems.is_empty());
        let out = run_in(repo.path(), Some(&prepared.environment), "cat generated/answer.txt");
        assert_eq!(out.stdout, "42\n");
    }
}

mod python {
    use super::*;

    #[test]
    fn a_src_layout_package_is_installed_and_its_tests_see_the_copys_code() {
        let repo = sera_test_support::fixture("py-src");
        let before = run_in(repo.path(), None, "python3 -m pytest -q -p no:cacheprovider 2>&1");
        assert!(!before.success(), "without an environment `import tally` fails: {before:?}");

        let cache = tempfile::tempdir().expect("tempdir");
        let prepared = prepare(repo.path(), &offline(cache.path()), &mut quiet).expect("prepares");
        let environment = &prepared.environment;
        assert_eq!(environment.ecosystems, ["python"]);
        let names: Vec<&str> = environment.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["virtual environment", "install the project"]);
        assert_eq!(environment.repo_env["PYTHONPATH"], [std::path::PathBuf::from("src")]);

        let out = run_in(
            repo.path(),
            Some(environment),
            "which python; python -m pytest -q -p no:cacheprovider 2>&1 | tail -n 5",
        );
        let venv = environment.dir.join("venv/bin/python").display().to_string();
        assert!(
            out.stdout.starts_with(&venv),
            "the agent's python is the environment's: {}",
            out.stdout
        );
        assert!(out.stdout.contains("3 passed"), "{}", out.stdout);
    }

    #[test]
    fn a_pytest_plugin_from_the_test_extra_is_installed_from_a_wheel() {
        let wheels = tempfile::tempdir().expect("tempdir");
        let plugin = sera_test_support::fixture("py-clock-plugin");
        let build =
            Sandbox::new(SandboxConfig { isolation: Isolation::None, ..SandboxConfig::default() })
                .expect("sandbox")
                .scratch(plugin.path())
                .expect("scratch")
                .run(
                    &CommandSpec::new("python3")
                        .args([
                            "-m",
                            "pip",
                            "wheel",
                            "--no-deps",
                            "--no-build-isolation",
                            "--no-index",
                        ])
                        .arg("-w")
                        .arg(wheels.path().display().to_string())
                        .arg(".")
                        .timeout(Duration::from_secs(300))
                        .merge_output(true),
                )
                .expect("runs");
        assert!(build.success(), "{}", build.stdout);

        let repo = sera_test_support::fixture("py-plugin");
        let before = run_in(repo.path(), None, "python3 -m pytest -q -p no:cacheprovider 2>&1");
        assert!(before.stdout.contains("fixture 'frozen_clock' not found"), "{}", before.stdout);

        let cache = tempfile::tempdir().expect("tempdir");
        let config = EnvConfig {
            pip_args: vec!["--find-links".into(), wheels.path().display().to_string()],
            ..offline(cache.path())
        };
        let prepared = prepare(repo.path(), &config, &mut quiet).expect("prepares");
        let install = &prepared.environment.steps[1];
        assert!(install.command.ends_with(".[test]"), "{}", install.command);
        let out = run_in(
            repo.path(),
            Some(&prepared.environment),
            "python -m pytest -q -p no:cacheprovider 2>&1 | tail -n 5",
        );
        assert!(out.stdout.contains("3 passed"), "{}", out.stdout);
    }
}

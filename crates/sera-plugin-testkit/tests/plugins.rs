//! Loads the plugins under `plugins/` as real dynamic libraries, through the host.
//!
//! - `example_plugins_*`: the conformance suite passes on swap-args and no-test-edits, and
//!   their classes, mutants and verdicts reach sera's own types.
//! - `*_is_rejected*`: a missing file or directory, a library that is not a sera plugin and a
//!   plugin built against an older interface fail to load, with messages naming the file.
//! - `panicking_plugin_*`: a plugin that panics reports errors and the host carries on; one
//!   whose constructor fails is refused at load time.

use std::path::{Path, PathBuf};

use sera_core::{ByteSpan, Entity, EntityKind, Language, LineSpan, Patch};
use sera_mutation::{ExternalOperator, MutateConfig, SourceFile, mutate_with};
use sera_plugin_host::{LoadError, SourceText, load_dir, load_file};
use sera_plugin_testkit::{Failure, built_library, check_plugin};
use sera_taxonomy::Registry;

fn library(name: &str) -> PathBuf {
    // No skipping: a missing library is a build problem the message explains.
    built_library(name).unwrap_or_else(|message| panic!("{message}"))
}

fn entity(file: &str, language: Language, bytes: ByteSpan) -> Entity {
    Entity {
        id: "f-test".to_string(),
        name: "pick".to_string(),
        qualified_name: "pick".to_string(),
        kind: EntityKind::Function,
        language,
        file: file.to_string(),
        bytes,
        lines: LineSpan { start: 1, end: 3 },
        is_test: false,
        is_async: false,
        parent: None,
        callees: Vec::new(),
    }
}

#[test]
fn example_plugins_pass_the_conformance_suite() {
    let report = check_plugin(&library("swap-args")).expect("swap-args conforms");
    assert_eq!(report.plugin, "swap-args");
    assert_eq!(report.classes, ["swapped-call-arguments"]);
    // The Rust sample has `min(x, hi)`, `max(lo, top)` and `offset(hi, lo)`.
    assert_eq!(report.edits, [("swap-call-arguments".to_string(), 3)]);

    let report = check_plugin(&library("no-test-edits")).expect("no-test-edits conforms");
    assert_eq!(report.verdicts, [("no-test-edits".to_string(), true)]);
}

#[test]
fn example_plugin_classes_extend_the_registry_after_the_builtins() {
    let plugin = load_file(&library("swap-args")).expect("swap-args loads");
    let mut registry = Registry::builtin();
    let builtins = registry.len();
    let indices = plugin.register_classes(&mut registry).expect("classes register");
    assert_eq!(indices, [builtins]);
    let class = registry.get("swapped-call-arguments").expect("registered");
    assert_eq!(class.origin, "plugin swap-args");
    // Registering again is a duplicate slug, reported with the plugin's name.
    let error = plugin.register_classes(&mut registry).expect_err("duplicate");
    assert!(error.to_string().contains("plugin `swap-args`"), "{error}");
}

#[test]
fn example_operator_produces_mutants_with_patches_and_stable_ids() {
    let plugin = load_file(&library("swap-args")).expect("swap-args loads");
    let text = "fn other() { f(a, b) }\nfn pick(lo: u8, hi: u8) -> u8 {\n    max(lo, hi)\n}\n";
    let start = text.find("fn pick").expect("in text");
    let entity = entity("src/lib.rs", Language::Rust, ByteSpan { start, end: text.len() });
    let file = SourceFile::new("src/lib.rs", Language::Rust, text);
    let operators = plugin.mutation_operators().expect("operators are listed");
    let external: Vec<&dyn ExternalOperator> = operators.iter().map(|o| o as _).collect();
    let config = MutateConfig {
        repo: "demo".into(),
        commit: Some("abc".into()),
        operators: Some(vec!["swap-call-arguments".into()]),
        ..MutateConfig::default()
    };
    let run = || {
        mutate_with(std::slice::from_ref(&file), std::slice::from_ref(&entity), &config, &external)
    };
    let mutants = run().expect("operator runs").mutants;
    // Only the call inside the entity is touched, not `f(a, b)` before it.
    assert_eq!(mutants.len(), 1, "{mutants:#?}");
    let mutant = &mutants[0];
    assert_eq!(mutant.operator, "swap-call-arguments");
    assert_eq!(mutant.classes, ["swapped-call-arguments"]);
    assert_eq!(mutant.description, "swap `lo` and `hi` in the call to `max` in `pick`");
    let expected = text.replace("max(lo, hi)", "max(hi, lo)");
    assert_eq!(mutant.patch, Patch::between("src/lib.rs", text, &expected));
    assert_eq!(run().expect("operator runs").mutants[0].id, mutant.id, "ids are stable");
}

#[test]
fn example_verifier_rejects_patches_that_edit_tests() {
    let plugin = load_file(&library("no-test-edits")).expect("no-test-edits loads");
    let [verifier] = plugin.verifiers() else { panic!("one verifier") };
    let patch = Patch::between("tests/it.rs", "assert!(x);\n", "assert!(true);\n");
    let verdict =
        verifier.verify_raw("i-1", "{}", &patch.render(), "null").expect("the verifier runs");
    assert!(!verdict.accepted);
    assert_eq!(verdict.verifier, "no-test-edits");
    assert_eq!(verdict.instance_id, "i-1");
    assert_eq!(verdict.reason, "the patch edits test files: tests/it.rs");
}

#[test]
fn a_directory_loads_every_plugin_in_name_order() {
    let dir = tempdir();
    for name in ["swap-args", "no-test-edits"] {
        let from = library(name);
        let to = dir.join(from.file_name().expect("a file"));
        std::fs::copy(&from, &to).expect("copy the library");
    }
    let plugins = load_dir(&dir).expect("both load");
    let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["no-test-edits", "swap-args"]);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_missing_file_or_directory_is_rejected_by_name() {
    let error = load_file(Path::new("/nonexistent/libx.so")).expect_err("missing");
    assert_eq!(error.to_string(), "plugin file /nonexistent/libx.so does not exist");
    let error = load_dir(Path::new("/nonexistent/plugins")).expect_err("missing");
    assert_eq!(error.to_string(), "plugin directory /nonexistent/plugins does not exist");
}

#[test]
fn a_library_that_is_not_a_plugin_is_rejected_with_a_clear_message() {
    // The C math library: a real shared library without sera's root module. The test plugins
    // built with `rlib` also produce non-plugin files, but libm is on every glibc system.
    let libm = Path::new("/lib/x86_64-linux-gnu/libm.so.6");
    assert!(libm.is_file(), "the test expects glibc's libm at {}", libm.display());
    let error = load_file(libm).expect_err("not a plugin");
    assert!(matches!(error, LoadError::NotAPlugin { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with("/lib/x86_64-linux-gnu/libm.so.6 is not a sera plugin"),
        "{message}"
    );

    // A file that is not a library at all.
    let dir = tempdir();
    let fake = dir.join("libfake.so");
    std::fs::write(&fake, "not an ELF file").expect("write");
    let error = load_file(&fake).expect_err("not a library");
    assert!(matches!(error, LoadError::Open { .. }), "{error:?}");
    assert!(error.to_string().contains("libfake.so cannot be opened"), "{error}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn a_plugin_built_against_an_older_interface_is_rejected_with_a_clear_message() {
    let path = library("old-version");
    let error = load_file(&path).expect_err("old interface");
    assert!(matches!(error, LoadError::IncompatibleVersion { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("built against sera plugin interface 0.0.1"), "{message}");
    assert!(message.contains("rebuild the plugin against sera-plugin-api"), "{message}");
    assert!(message.starts_with(&path.display().to_string()), "{message}");
    // The conformance suite reports the same failure.
    assert!(matches!(check_plugin(&path), Err(Failure::Load(_))));
}

#[test]
fn panicking_plugin_returns_errors_and_the_host_carries_on() {
    let path = library("panicking");
    let plugin = load_file(&path).expect("the panicking plugin loads");
    let text = "fn pick() { max(a, b) }\n";
    let entity = entity("src/lib.rs", Language::Rust, ByteSpan { start: 0, end: text.len() });
    let source = SourceText { path: "src/lib.rs", language: Language::Rust, text };
    let file = SourceFile::new("src/lib.rs", Language::Rust, text);
    let operators = plugin.mutation_operators().expect("operators are listed");
    let external: Vec<&dyn ExternalOperator> = operators.iter().map(|o| o as _).collect();
    let config = MutateConfig { repo: "demo".into(), ..MutateConfig::default() };
    for _ in 0..2 {
        let error = mutate_with(
            std::slice::from_ref(&file),
            std::slice::from_ref(&entity),
            &config,
            &external,
        )
        .expect_err("it panics");
        let message = error.to_string();
        assert!(
            message.starts_with(
                "mutation operator `always-panics` failed on src/lib.rs: plugin `panicking`: plugin panicked:"
            ),
            "{message}"
        );
        assert!(message.contains("operator panics by design"), "{message}");
    }
    let [verifier] = plugin.verifiers() else { panic!("one verifier") };
    let error = verifier.verify_raw("i-1", "{}", "", "null").expect_err("it panics");
    assert!(error.to_string().contains("verifier panics by design"), "{error}");
    // The suite turns the panic into a failure, not an abort.
    let failure = check_plugin(&path).expect_err("panics do not conform");
    assert!(failure.to_string().contains("plugin panicked"), "{failure}");
    // An edit outside the entity is refused, naming the operator and the ranges.
    let operators = plugin.operators().expect("operators are listed");
    let bad = operators.iter().find(|o| o.slug == "out-of-range").expect("listed");
    let error = plugin.edits(bad, &source, &entity).expect_err("out of range");
    assert_eq!(
        error.to_string(),
        "plugin `panicking`, operator `out-of-range`: edit 0..25 is not a character range \
         inside the entity's bytes 0..24 of src/lib.rs"
    );
    // And the host still works.
    assert!(load_file(&library("swap-args")).is_ok());
}

/// A fresh directory under the target dir; no tempfile dependency for two uses.
fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("sera-plugin-tests-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

#[test]
fn a_plugin_whose_constructor_fails_is_refused_at_load_time() {
    let path = library("failing-init");
    let error = load_file(&path).expect_err("the constructor fails");
    assert!(matches!(error, LoadError::Init { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with(&format!("{} failed to initialise", path.display())), "{message}");
    assert!(message.contains("plugin `failing-init`"), "{message}");
    assert!(message.contains("constructor fails by design"), "{message}");
    // The conformance suite reports it, and the host loads the next plugin as usual.
    assert!(matches!(check_plugin(&path), Err(Failure::Load(LoadError::Init { .. }))));
    assert!(load_file(&library("swap-args")).is_ok());
}

//! `sera plugins list`: what each plugin library offers, and why a library did not load;
//! `sera taxonomy list --plugins` and `sera mutate --plugins`: plugins in the other commands.

use assert_cmd::Command;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

/// The swap-args `cdylib`, built because it is a dev-dependency of this crate.
fn swap_args() -> std::path::PathBuf {
    sera_plugin_testkit::built_library("swap-args").unwrap_or_else(|message| panic!("{message}"))
}

/// A temporary folder holding the swap-args library.
fn swap_args_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = swap_args();
    std::fs::copy(&from, dir.path().join(from.file_name().unwrap())).unwrap();
    dir
}

#[test]
fn mutate_with_plugins_uses_their_operators_and_classes() {
    let plugins = swap_args_dir();
    let repo = sera_test_support::fixture("rust-demo");
    let out = repo.path().join("mutants.jsonl");
    let mutate = |extra: &[&str]| {
        sera()
            .arg("mutate")
            .arg(repo.path())
            .arg("--plugins")
            .arg(plugins.path())
            .args(extra)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let output = mutate(&["--classes", "swapped-call-arguments", "--per-function", "0"]);
    assert!(output.status.success(), "{output:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    let records: Vec<serde_json::Value> =
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    // The built-in swap-arguments operator shares the class; the plugin's adds its own.
    let by_plugin: Vec<_> =
        records.iter().filter(|r| r["operator"] == "swap-call-arguments").collect();
    assert!(!by_plugin.is_empty(), "{text}");
    for record in &by_plugin {
        assert_eq!(record["classes"], serde_json::json!(["swapped-call-arguments"]));
        assert!(record["description"].as_str().unwrap().starts_with("swap `"), "{record}");
        assert!(record["patch"].as_str().unwrap().starts_with("diff --git a/src/"));
    }
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("swap-call-arguments "), "{stderr}");

    // A plugin slug can be weighted; without --plugins it is unknown (a usage error, 1).
    let weighted = mutate(&["--weight", "swap-call-arguments=5,remove-guard=0.5"]);
    assert!(weighted.status.success(), "{weighted:?}");
    let output = sera()
        .arg("mutate")
        .arg(repo.path())
        .args(["--operators", "swap-call-arguments", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown mutation operator `swap-call-arguments`"), "{stderr}");
}

#[test]
fn mutate_rejects_a_malformed_weight() {
    let repo = sera_test_support::fixture("rust-demo");
    let output = sera()
        .arg("mutate")
        .arg(repo.path())
        .args(["--weight", "remove-guard=lots", "--out", "-"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("weight of `remove-guard` is not a number"), "{stderr}");
}

#[test]
fn plugins_list_prints_each_plugins_classes_and_operators() {
    let dir = swap_args_dir();
    let output = sera().args(["plugins", "list", "--dir"]).arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        stdout,
        "libswap_args.so\n  plugin: swap-args (interface sera-plugin/1)\n  \
         classes: swapped-call-arguments\n  \
         operators: swap-call-arguments [swapped-call-arguments]\n  verifiers: -\n"
    );
}

#[test]
fn taxonomy_list_with_plugins_adds_their_classes_after_the_builtins() {
    let dir = swap_args_dir();
    let output = sera().args(["taxonomy", "list", "--plugins"]).arg(dir.path()).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 52);
    assert!(lines[51].starts_with("51  swapped-call-arguments "), "{}", lines[51]);
    assert!(lines[51].ends_with("Swapped call arguments"), "{}", lines[51]);
}

#[test]
fn plugins_list_names_a_library_that_is_not_a_plugin_and_exits_with_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("libbroken.so"), "not a library").unwrap();
    let output = sera().args(["plugins", "list", "--dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.starts_with("libbroken.so\n  error: "), "{stdout}");
    assert!(stdout.contains("cannot be opened as a dynamic library"), "{stdout}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("1 of 1 libraries"), "{stderr}");
}

#[test]
fn plugins_list_of_a_missing_directory_names_it() {
    let output =
        sera().args(["plugins", "list", "--dir", "/nonexistent/plugins"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, "error: plugin directory /nonexistent/plugins does not exist\n");
}

//! `sera plugins list`: what each plugin library offers, and why a library did not load.

use assert_cmd::Command;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

/// The swap-args `cdylib`, built because it is a dev-dependency of this crate.
fn swap_args() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    let deps = exe.parent().expect("the test binary is in target/<profile>/deps");
    let file =
        format!("{}swap_args.{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_EXTENSION);
    let path = deps.join(&file);
    assert!(path.is_file(), "{} is missing; run `cargo build -p swap-args`", path.display());
    path
}

#[test]
fn plugins_list_prints_each_plugins_classes_and_operators() {
    let dir = tempfile::tempdir().unwrap();
    let from = swap_args();
    std::fs::copy(&from, dir.path().join(from.file_name().unwrap())).unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let from = swap_args();
    std::fs::copy(&from, dir.path().join(from.file_name().unwrap())).unwrap();
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

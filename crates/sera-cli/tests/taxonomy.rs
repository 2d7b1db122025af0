//! `sera taxonomy list`: the bug classes as a table and as JSON.

use assert_cmd::Command;

fn sera() -> Command {
    Command::cargo_bin("sera").expect("the sera binary is built for its tests")
}

#[test]
fn taxonomy_list_prints_the_51_classes_one_per_line() {
    let output = sera().args(["taxonomy", "list"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 51);
    assert!(lines[0].starts_with(" 0  possible-bug"), "{}", lines[0]);
    assert!(lines[50].starts_with("50  input-output-handling-and-data-flow"), "{}", lines[50]);
}

#[test]
fn taxonomy_list_json_has_templates_with_both_variables() {
    let output = sera().args(["taxonomy", "list", "--json"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let classes: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(classes.len(), 51);
    for (index, class) in classes.iter().enumerate() {
        assert_eq!(class["index"], index);
        let template = class["template"].as_str().unwrap();
        assert!(template.contains("{{function}}") && template.contains("{{file}}"), "{template}");
    }
}

#[test]
fn taxonomy_without_a_subcommand_is_a_usage_error() {
    sera().arg("taxonomy").assert().code(1);
}

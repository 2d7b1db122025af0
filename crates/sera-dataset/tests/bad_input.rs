use sera_dataset::export::for_each_chunk;

use super::*;

#[test]
fn bad_sera_rows_are_reported_by_line_and_the_rest_is_kept() {
    let path = fixture("sera/bad-rows.jsonl");
    let (trajectories, problems) = import(Source::Sera, std::slice::from_ref(&path));
    let found: Vec<(Option<usize>, &str)> = problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(
        found,
        [(Some(1), "truncated_json"), (Some(2), "unknown_role"), (Some(4), "bad_tool_arguments")]
    );
    assert!(problems.iter().all(|p| p.file.ends_with("bad-rows.jsonl")));
    assert!(
        problems[1]
            .to_string()
            .contains("bad-rows.jsonl:2: unknown_role: message 3: unknown role \"observer\"")
    );
    let ids: Vec<&str> = trajectories.iter().map(|t| t.instance_id.as_str()).collect();
    assert_eq!(ids, ["demo__calc-4", "demo__calc-6"]);

    // The empty patch surfaces at export, as a problem with its origin.
    let (records, stats) = export(trajectories, Format::Hermes, ExportConfig::default());
    assert_eq!(records.len(), 1);
    assert_eq!(stats.bad.get("empty_patch"), Some(&1));
    assert_eq!(stats.problems[0].line, Some(2), "the second record pushed");
}

#[test]
fn bad_trajectory_lines_are_reported_and_skipped() {
    let good = serde_json::to_string(&native()).unwrap();
    let unknown_role = good.replacen("\"role\":\"tool\"", "\"role\":\"observer\"", 1);
    let bad_arguments = good.replacen(
        "\"arguments\":{\"command\":\"grep",
        "\"arguments\":\"{\\\"command\\\": \\\"grep",
        1,
    );
    let truncated = &good[..good.len() / 2];
    let text = format!("{good}\n{unknown_role}\n\n{bad_arguments}\n{good}\n{truncated}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    std::fs::write(&path, text).unwrap();

    let mut items = Vec::new();
    for_each_chunk(&path, 2, |chunk| {
        items.extend(chunk);
        Ok(())
    })
    .unwrap();
    let lines: Vec<(Option<usize>, bool)> =
        items.iter().map(|(o, r)| (o.line, r.is_ok())).collect();
    assert_eq!(
        lines,
        [(Some(1), true), (Some(2), false), (Some(4), false), (Some(5), true), (Some(6), false)]
    );
    let kinds: Vec<&str> =
        items.iter().filter_map(|(_, r)| r.as_ref().err()).map(|p| p.kind).collect();
    assert_eq!(kinds, ["bad_record", "bad_record", "truncated_json"]);

    // Through the whole export: two good records (equal, so one is a duplicate), three bad.
    let out = dir.path().join("out.jsonl");
    let tokenizer = Tokenizer::embedded();
    let config = ExportConfig::default();
    let stats =
        sera_dataset::export(&[path], &tokenizer, &config, &Output::File(out.clone())).unwrap();
    assert_eq!(stats.read, 5);
    assert_eq!(stats.kept.get("train"), Some(&1));
    assert_eq!(stats.dropped.get("duplicate"), Some(&1));
    assert_eq!(stats.problems.len(), 3);
    assert_eq!(std::fs::read_to_string(out).unwrap().lines().count(), 1);
}

#[test]
fn missing_or_empty_patches_are_problems() {
    let mut none = native();
    none.patch = None;
    let (records, stats) = export(vec![none], Format::Hermes, ExportConfig::default());
    assert!(records.is_empty());
    assert_eq!(stats.problems[0].kind, "empty_patch");
    assert!(stats.problems[0].message.contains("t-0a1b2c3d4e5f6071"));
}

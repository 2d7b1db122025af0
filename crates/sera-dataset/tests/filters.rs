use sera_core::{ExitStatus, Message, Patch, Role, ToolCall};

use super::*;

/// The native fixture with `turns` extra (assistant, tool) pairs before the final submit, each
/// observation about `observation_words` words long, under a distinct instance id.
fn long(id: &str, turns: usize, observation_words: usize) -> Trajectory {
    let mut t = native();
    t.id = format!("t-{id}");
    t.instance_id = id.to_string();
    let submit_at = t.messages.len() - 2;
    let mut extra = Vec::new();
    for i in 0..turns {
        let mut call =
            ToolCall { id: format!("x{i}"), name: "bash".into(), arguments: Default::default() };
        call.arguments.insert("command".into(), format!("cat part{i}.txt").into());
        let mut ask = Message::text(Role::Assistant, format!("Reading part {i} of {id}."));
        ask.tool_calls.push(call);
        let words: Vec<String> =
            (0..observation_words).map(|w| format!("w{}", (w * 7 + i) % 97)).collect();
        let mut reply = Message::text(Role::Tool, format!("OBSERVATION:\n{}", words.join(" ")));
        reply.tool_call_id = Some(format!("x{i}"));
        extra.push(ask);
        extra.push(reply);
    }
    t.messages.splice(submit_at..submit_at, extra);
    t
}

#[test]
fn patches_over_forty_changed_lines_are_dropped() {
    let mut t = native();
    let old: String = (0..21).map(|i| format!("a{i}\n")).collect();
    let new: String = (0..21).map(|i| format!("b{i}\n")).collect();
    t.patch = Some(Patch::between("x.txt", &old, &new));
    assert_eq!(t.patch.as_ref().unwrap().changed_line_count(), 42);
    let (records, _) = export(vec![t.clone()], Format::Hermes, lossless());
    assert_eq!(records.len(), 1, "off by default, as in SERA");
    let config = ExportConfig { max_patch_lines: Some(40), ..lossless() };
    let (records, stats) = export(vec![t], Format::Hermes, config);
    assert!(records.is_empty());
    assert_eq!(stats.dropped.get("patch_too_large"), Some(&1));
}

#[test]
fn a_recall_threshold_rethresholds_finished_rollouts() {
    let with = |id: &str, recall: Option<f64>| {
        let mut t = long(id, 1, 3);
        t.recall = recall;
        t
    };
    let rollouts = vec![with("a", Some(1.0)), with("b", Some(0.4)), with("c", None)];
    let (records, _) = export(rollouts.clone(), Format::Hermes, lossless());
    assert_eq!(records.len(), 3);
    let config = ExportConfig { min_recall: Some(0.5), ..lossless() };
    let (records, stats) = export(rollouts, Format::Hermes, config);
    assert_eq!(records.len(), 1);
    assert_eq!(stats.dropped.get("recall_below_threshold"), Some(&2));
}

#[test]
fn long_observations_on_average_are_dropped() {
    let config = || ExportConfig { max_avg_observation_tokens: Some(600), ..lossless() };
    let (records, _) = export(vec![long("a", 3, 2000)], Format::Hermes, lossless());
    assert_eq!(records.len(), 1, "off by default, as in SERA");
    let (records, stats) = export(vec![long("a", 3, 2000)], Format::Hermes, config());
    assert!(records.is_empty());
    assert_eq!(stats.dropped.get("observations_too_long"), Some(&1));
    let (records, _) = export(vec![long("a", 3, 100)], Format::Hermes, config());
    assert_eq!(records.len(), 1);
}

#[test]
fn unsubmitted_rollouts_are_dropped() {
    let mut t = native();
    t.exit_status = ExitStatus::StepLimit;
    let (records, stats) = export(vec![t], Format::Hermes, lossless());
    assert!(records.is_empty());
    assert_eq!(stats.dropped.get("not_submitted"), Some(&1));
}

/// Token count of the whole Hermes record of `t`, measured by exporting it without limits.
fn tokens_of(t: &Trajectory) -> u64 {
    let (records, _) = export(vec![t.clone()], Format::Hermes, lossless());
    records[0]["metadata"]["tokens"].as_u64().unwrap()
}

#[test]
fn overflowing_records_are_cut_after_the_last_assistant_turn_before_the_overflow() {
    let t = long("cut", 30, 60);
    let full = tokens_of(&t);
    let config = ExportConfig { max_tokens: full as usize - 200, ..lossless() };
    let (records, stats) = export(vec![t.clone()], Format::Hermes, config);
    assert_eq!(records.len(), 1);
    assert_eq!(stats.truncated, 1);
    let record = &records[0];
    let messages = record["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["role"], "assistant");
    let ratio = record["metadata"]["truncation_ratio"].as_f64().unwrap();
    // The share of trajectory messages kept: the view shares one user turn between two tool
    // results, and the final submit observation is never exported.
    let all = t.messages.len() - 1;
    assert!((ratio - (messages.len() + 1) as f64 / all as f64).abs() < 1e-9, "{ratio}");
    assert!((0.88..1.0).contains(&ratio));
    assert!(record["metadata"]["tokens"].as_u64().unwrap() <= full - 200);

    // Below the ratio threshold the record is dropped.
    let config = ExportConfig { max_tokens: full as usize / 2, ..lossless() };
    let (records, stats) = export(vec![t], Format::Hermes, config);
    assert!(records.is_empty());
    assert_eq!(stats.dropped.get("truncated_below_ratio"), Some(&1));
}

#[test]
fn records_that_fit_come_first_then_truncated_ones_by_falling_ratio() {
    let short = long("short", 0, 10);
    let a = long("a", 30, 60);
    let b = long("b", 30, 60);
    let limit = tokens_of(&a) as usize - 150;
    // `b` loses more than `a`: give it a longer last observation.
    let mut b = b;
    let n = b.messages.len();
    b.messages[n - 4].content.push_str(&" tail".repeat(400));
    let config = ExportConfig { max_tokens: limit, ..lossless() };
    let (records, stats) =
        export(vec![b.clone(), a.clone(), short.clone()], Format::Hermes, config.clone());
    let order: Vec<&str> = records.iter().map(|r| r["instance_id"].as_str().unwrap()).collect();
    assert_eq!(order, ["short", "a", "b"], "{stats:?}");
    let ratios: Vec<f64> =
        records[1..].iter().map(|r| r["metadata"]["truncation_ratio"].as_f64().unwrap()).collect();
    assert!(ratios[0] > ratios[1], "{ratios:?}");

    // With a cap, the truncated record with the lower ratio is the one left out.
    let capped = ExportConfig { max_records: Some(2), ..config };
    let (records, stats) = export(vec![b, a, short], Format::Hermes, capped);
    let order: Vec<&str> = records.iter().map(|r| r["instance_id"].as_str().unwrap()).collect();
    assert_eq!(order, ["short", "a"]);
    assert_eq!(stats.dropped.get("over_max_records"), Some(&1));
}

#[test]
fn records_with_no_assistant_turn_before_the_overflow_are_dropped() {
    let mut t = native();
    t.messages[1].content.push_str(&" word".repeat(5000));
    let config = ExportConfig { max_tokens: 2000, ..lossless() };
    let (records, stats) = export(vec![t], Format::Hermes, config);
    assert!(records.is_empty());
    assert_eq!(stats.dropped.get("too_long"), Some(&1));
}

#[test]
fn duplicate_conversations_are_kept_once() {
    let mut other = native();
    other.id = "t-other".into();
    let (records, stats) = export(vec![native(), other, native()], Format::Hermes, lossless());
    assert_eq!(records.len(), 1);
    assert_eq!(stats.dropped.get("duplicate"), Some(&2));
    let config = ExportConfig { dedup: false, ..lossless() };
    let (records, _) = export(vec![native(), native()], Format::Hermes, config);
    assert_eq!(records.len(), 2);
}

#[test]
fn every_format_keeps_the_same_records_and_messages() {
    let t = long("same", 30, 60);
    let config = ExportConfig { max_tokens: tokens_of(&t) as usize - 200, ..lossless() };
    let records: Vec<Value> = [Format::OpenAi, Format::Hermes, Format::Xml, Format::Raw]
        .into_iter()
        .map(|format| export(vec![t.clone()], format, config.clone()).0.remove(0))
        .collect();
    let counts: Vec<usize> =
        records.iter().map(|r| r["messages"].as_array().unwrap().len()).collect();
    // The hermes record shares one user turn between the results of one turn's two calls,
    // as Qwen's template does; the others keep one message per trajectory message.
    assert_eq!(counts[0], counts[2], "{counts:?}");
    assert_eq!(counts[0], counts[3], "{counts:?}");
    assert_eq!(counts[1], counts[0] - 1, "{counts:?}");
    let last = |r: &Value| r["messages"].as_array().unwrap().last().unwrap()["content"].clone();
    let kept = t
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::Assistant && m.content.starts_with("Reading"));
    let cut = records.iter().map(last).collect::<Vec<_>>();
    assert!(kept.is_some());
    let reading =
        |v: &Value| v.as_str().unwrap().split("Reading part ").nth(1).map(|s| s[..2].to_string());
    assert!(cut.iter().all(|c| reading(c) == reading(&cut[0]) && reading(c).is_some()), "{cut:?}");
}

#[test]
fn dataset_directory_has_splits_card_and_stats() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let lines: Vec<String> = (0..40)
        .map(|i| {
            let mut t = native();
            t.instance_id = format!("inst-{i}");
            t.messages[1].content.push_str(&format!(" (variant {i})"));
            serde_json::to_string(&t).unwrap()
        })
        .collect();
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("dataset");
    let config = ExportConfig {
        formats: vec![Format::Hermes, Format::OpenAi],
        val_fraction: 0.25,
        ..lossless()
    };
    let stats =
        sera_dataset::export(&[input], &Tokenizer::embedded(), &config, &Output::Dir(out.clone()))
            .unwrap();
    let train = stats.kept["train"];
    let val = stats.kept["val"];
    assert_eq!(train + val, 40);
    assert!(val > 2 && train > val, "{train} {val}");
    for format in ["hermes", "openai"] {
        let count = |split: &str| {
            std::fs::read_to_string(out.join(format).join(split)).unwrap().lines().count()
        };
        assert_eq!((count("train.jsonl"), count("val.jsonl")), (train, val));
    }
    let card = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(card.starts_with("---\nlicense: other\n"));
    assert!(card.contains("- config_name: hermes\n  default: true\n  data_files:\n  - split: train\n    path: hermes/train.jsonl\n  - split: validation\n    path: hermes/val.jsonl\n"));
    let stats_json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(stats_json["kept"]["train"], train);
    assert!(stats_json["tokens"]["total"].as_u64().unwrap() > 1000);
    assert_eq!(stats_json["bug_classes"]["off-by-one"], 40);

    // The split is a function of the instance id alone: a second run gives the same files.
    let again = dir.path().join("again");
    sera_dataset::export(
        &[dir.path().join("in.jsonl")],
        &Tokenizer::embedded(),
        &config,
        &Output::Dir(again.clone()),
    )
    .unwrap();
    for path in ["hermes/train.jsonl", "hermes/val.jsonl", "openai/val.jsonl", "stats.json"] {
        assert_eq!(
            std::fs::read(out.join(path)).unwrap(),
            std::fs::read(again.join(path)).unwrap(),
            "{path}"
        );
    }
}

//! sera-rs against SERA's own post-processing, on the conformance corpus of
//! tests/data/sera-conformance/ (inputs written for this project, outputs produced by running
//! SERA's code on them: see its generate.py).
//!
//! Each SWE-agent trajectory is imported with `sera import --from swe-agent`'s converter and
//! exported under the SERA options of each configuration; the record must equal the row SERA
//! wrote (messages, `instance_id`, `tool_json`, serialized byte for byte), and where SERA wrote
//! none, sera-rs must write none. sera-rs adds one key, `metadata` (provenance).

use std::collections::BTreeMap;

use sera_dataset::import::{from_mini_swe_agent, from_swe_agent};
use sera_dataset::{Compat, Reformat, SeraOptions};

use super::*;

fn corpus(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/sera-conformance").join(path)
}

fn read_jsonl(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(corpus(path)).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The export configuration that mirrors one of SERA's `postprocess` configurations, with
/// sera-rs's own filters (which SERA applies elsewhere or not at all) turned off.
fn config_for(sera: &Value) -> ExportConfig {
    let format = match sera["tool_call_format"].as_str().unwrap() {
        "hermes" => Format::Hermes,
        "xml" => Format::Xml,
        "raw" => Format::Raw,
        other => panic!("unknown tool_call_format {other}"),
    };
    let reformat = match sera["reformat_assistant_message"].as_str() {
        Some("keep_only_think") => Some(Reformat::KeepOnlyThink),
        Some("keep_only_non_think") => Some(Reformat::KeepOnlyNonThink),
        None | Some("") => None,
        Some(other) => panic!("unknown reformat mode {other}"),
    };
    ExportConfig {
        formats: vec![format],
        require_submitted: sera["enforce_submit"].as_bool().unwrap(),
        drop_empty_patch: false,
        compat: Compat::Sera,
        sera: SeraOptions {
            add_think: sera["add_think"].as_bool().unwrap(),
            reformat,
            add_train_key: sera["add_train_key"].as_bool().unwrap(),
            include_tool_json: sera["include_tool_json"].as_bool().unwrap(),
        },
        max_tokens: usize::MAX / 2,
        max_patch_lines: None,
        max_avg_observation_tokens: None,
        min_truncation_ratio: 0.0,
        dedup: false,
        ..ExportConfig::default()
    }
}

/// A raw message reduced to what a sera-rs trajectory records: role, text, train flag and the
/// tool calls' names and parsed arguments (SWE-agent's other history fields are not kept).
fn raw_projection(message: &Value) -> Value {
    let text = match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().map(|p| p["text"].as_str().unwrap()).collect(),
        other => panic!("content {other}"),
    };
    let calls: Vec<Value> = message["tool_calls"]
        .as_array()
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let args: Value =
                        serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
                    serde_json::json!([c["function"]["name"], args])
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({"role": message["role"], "content": text, "train": message.get("train"), "calls": calls})
}

/// What differs between sera-rs's record and SERA's row, or `None` when they agree.
fn difference(format: Format, got: &Value, want: &Value) -> Option<String> {
    let mut keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    keys.retain(|k| *k != "metadata");
    let want_keys: Vec<&String> = want.as_object().unwrap().keys().collect();
    if keys != want_keys {
        return Some(format!("keys {keys:?}, SERA {want_keys:?}"));
    }
    for key in ["instance_id", "tool_json"] {
        if got.get(key).map(|v| v.to_string()) != want.get(key).map(|v| v.to_string()) {
            return Some(format!("{key} differs"));
        }
    }
    let (got, want) = (got["messages"].as_array().unwrap(), want["messages"].as_array().unwrap());
    if got.len() != want.len() {
        return Some(format!("{} messages, SERA {}", got.len(), want.len()));
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        // Serialized text, so key order and every byte of every string count.
        let (g, w) = match format {
            Format::Raw => (raw_projection(g).to_string(), raw_projection(w).to_string()),
            _ => (g.to_string(), w.to_string()),
        };
        if g != w {
            return Some(format!("message {i}:\n  sera-rs {g}\n  SERA    {w}"));
        }
    }
    None
}

type Importer = fn(&Value, &str, &Origin) -> Result<Trajectory, sera_dataset::Problem>;

/// Imports every case of `inputs` with `import`, exports it under each configuration of
/// `expected`, and returns how many cases were compared and the ones that differ.
fn compare_with_sera(inputs: &str, expected: &str, import: Importer) -> (usize, Vec<String>) {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(corpus("expected/meta.json")).unwrap())
            .unwrap();
    let trajectories: Vec<Trajectory> = read_jsonl(inputs)
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let id = case["instance_id"].as_str().unwrap();
            let origin = Origin { file: inputs.into(), line: Some(i + 1) };
            import(&case["traj"], id, &origin).unwrap()
        })
        .collect();
    let mut by_config: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in read_jsonl(expected) {
        by_config.entry(line["config"].as_str().unwrap().to_string()).or_default().push(line);
    }
    let mut failures = Vec::new();
    let mut compared = 0;
    for (name, lines) in &by_config {
        let config = config_for(&meta["configs"][name]);
        let format = config.formats[0];
        let (records, _) = export(trajectories.clone(), format, config);
        let by_id: BTreeMap<&str, &Value> =
            records.iter().map(|r| (r["instance_id"].as_str().unwrap(), r)).collect();
        for line in lines {
            let id = line["instance_id"].as_str().unwrap();
            compared += 1;
            let problem = match (by_id.get(id), &line["row"]) {
                (None, Value::Null) => None,
                (Some(_), Value::Null) => Some("sera-rs wrote a record, SERA none".to_string()),
                (None, _) => Some("SERA wrote a record, sera-rs none".to_string()),
                (Some(got), want) => difference(format, got, want),
            };
            if let Some(problem) = problem {
                failures.push(format!("[{name}] {id}: {problem}"));
            }
        }
    }
    (compared, failures)
}

#[test]
fn sera_compat_exports_equal_sera_post_processing_on_every_corpus_case() {
    let inputs = read_jsonl("inputs/trajectories.jsonl");
    assert!(inputs.len() >= 60, "the corpus has {} trajectories", inputs.len());
    let (compared, failures) = compare_with_sera(
        "inputs/trajectories.jsonl",
        "expected/postprocess.jsonl",
        from_swe_agent,
    );
    assert!(compared >= 600, "only {compared} cases compared");
    assert!(failures.is_empty(), "{} cases differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn mini_swe_agent_trajectories_export_as_sera_post_processes_them() {
    // SERA's agent_harness="mini-swe-agent": its exit message dropped, null content read as
    // empty, its own system prompts and one-tool schema.
    let (compared, failures) = compare_with_sera(
        "inputs/mini-trajectories.jsonl",
        "expected/postprocess-mini.jsonl",
        from_mini_swe_agent,
    );
    assert!(compared >= 200, "only {compared} cases compared");
    assert!(failures.is_empty(), "{} cases differ:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_native_trajectory_in_sera_form_puts_reasoning_in_a_think_block_and_lists_its_own_tools() {
    let t = native();
    let (records, _) = export(vec![t.clone()], Format::Hermes, ExportConfig::default());
    let messages = records[0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), t.messages.len(), "every message is kept, none is added");
    // The native tools are sera-rs's, not SWE-agent's: SERA's framing around them.
    let system = messages[0]["content"].as_str().unwrap();
    assert_ne!(system, sera_dataset::sera::HERMES_DEFAULT_SYSTEM_PROMPT);
    assert!(system.contains("<tools>\n{\"type\": \"function\""), "{system}");
    // The first assistant turn has reasoning and no text: the reasoning is the think block.
    assert!(
        messages[2]["content"]
            .as_str()
            .unwrap()
            .starts_with("<think>\nFind `clamp` first.\n</think>\n\n<tool_call>"),
        "{}",
        messages[2]["content"]
    );
    // keep_only_think: no think block, so the visible text becomes it.
    assert!(
        messages[11]["content"].as_str().unwrap().starts_with("<think>\nAll tests pass.\n</think>")
    );
    assert_eq!(messages.last().unwrap()["role"], "user", "the submit's output stays");
}

#[test]
fn sera_records_are_truncated_after_an_assistant_turn_like_lossless_ones() {
    let t = native();
    let (full, _) = export(vec![t.clone()], Format::Hermes, ExportConfig::default());
    let tokens = full[0]["metadata"]["tokens"].as_u64().unwrap() as usize;
    let config = ExportConfig {
        max_tokens: tokens - 1,
        min_truncation_ratio: 0.0,
        ..ExportConfig::default()
    };
    let (records, stats) = export(vec![t], Format::Hermes, config);
    assert_eq!(stats.truncated, 1);
    let messages = records[0]["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["role"], "assistant");
    assert!(records[0]["metadata"]["tokens"].as_u64().unwrap() < tokens as u64);
}

#[test]
fn an_xml_only_export_skips_the_hermes_think_checks_as_sera_does() {
    let mut t = native();
    t.messages[3].content.push_str("\nlog line with <think> in it");
    let (hermes, stats) = export(vec![t.clone()], Format::Hermes, ExportConfig::default());
    assert!(hermes.is_empty());
    assert_eq!(stats.dropped.get("unclosed_think"), Some(&1));
    let (xml, _) = export(vec![t], Format::Xml, ExportConfig::default());
    assert_eq!(xml.len(), 1);
    assert!(xml[0]["messages"][3]["content"].as_str().unwrap().ends_with("<think> in it"));
}

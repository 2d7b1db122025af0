use sera_core::{ExitStatus, Role, RolloutKind};

use super::*;

fn expected_sera_rows() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("sera/expected-hermes.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Checks a Hermes record against SERA's post-processing of the same history: every message
/// but the system prompt byte for byte, and the system prompt's framing.
#[track_caller]
fn check_matches_sera(record: &Value, expected: &Value) {
    let got = record["messages"].as_array().unwrap();
    let want = expected["messages"].as_array().unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate().skip(1) {
        assert_eq!(g, w, "message {i}");
    }
    let system = got[0]["content"].as_str().unwrap();
    assert!(system.starts_with(
        "You are a helpful assistant that can interact with a computer to solve tasks.\n\n# Tools\n\n\
         You may call one or more functions to assist with the user query.\n\n\
         You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    ));
    assert_eq!(got[0]["train"], false);
}

#[test]
fn sera_rows_export_to_hermes_as_sera_post_processing_does() {
    let (trajectories, problems) = import(Source::Sera, &[fixture("sera/rows.jsonl")]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(trajectories.len(), 2);
    let t = &trajectories[0];
    assert_eq!(t.kind, RolloutKind::Imported);
    assert_eq!(t.start_function.as_deref(), Some("clamp"));
    assert_eq!(t.start_file.as_deref(), Some("calc/ops.py"));
    assert!(t.target_patch.is_some() && t.patch.is_some());
    assert!(t.metadata["problem_statement"].as_str().unwrap().starts_with("`clamp()`"));

    let (records, stats) = export(trajectories, Format::Hermes, ExportConfig::default());
    let expected = expected_sera_rows();
    // SERA crashes on the second row (an assistant turn without tool calls); sera-rs drops it.
    assert!(expected[1]["messages"].is_null());
    assert_eq!(stats.dropped.get("no_tool_call"), Some(&1));
    assert_eq!(records.len(), 1);
    check_matches_sera(&records[0], &expected[0]);
}

#[test]
fn swe_agent_traj_exports_like_the_sera_row_with_the_same_history() {
    let (trajectories, problems) =
        import(Source::SweAgent, &[fixture("swe-agent/demo__calc-1.traj")]);
    assert!(problems.is_empty(), "{problems:?}");
    let t = &trajectories[0];
    assert_eq!(t.instance_id, "demo__calc-1");
    assert_eq!(t.repo, "demo/calc");
    assert_eq!(t.exit_status, ExitStatus::Submitted);
    assert_eq!(t.patch.as_ref().unwrap().changed_line_count(), 4);
    assert_eq!(t.messages[3].role, Role::Tool);
    assert_eq!(t.messages[3].tool_call_id.as_deref(), Some("call_01"));
    let (records, _) = export(trajectories, Format::Hermes, ExportConfig::default());
    check_matches_sera(&records[0], &expected_sera_rows()[0]);
}

#[test]
fn mini_swe_agent_bash_blocks_become_bash_calls_and_replies_tool_results() {
    let (trajectories, problems) =
        import(Source::MiniSweAgent, &[fixture("mini-swe-agent/demo__calc-1.traj.json")]);
    assert!(problems.is_empty(), "{problems:?}");
    let t = &trajectories[0];
    assert_eq!(t.instance_id, "demo__calc-1");
    assert_eq!(t.exit_status, ExitStatus::Submitted);
    assert_eq!(t.metadata["trajectory_format"], "mini-swe-agent-1.1");
    let roles: Vec<Role> = t.messages.iter().map(|m| m.role).collect();
    use Role::*;
    assert_eq!(roles, [System, User, Assistant, Tool, Assistant, Tool, Assistant, Tool]);
    let call = &t.messages[2].tool_calls[0];
    assert_eq!(call.name, "bash");
    assert_eq!(call.arguments["command"], "cat -n calc/ops.py");
    assert!(t.messages[2].content.starts_with("THOUGHT: I need to look"));
    assert_eq!(t.messages[3].tool_call_id.as_deref(), Some(call.id.as_str()));
    assert_eq!(t.tools.len(), 1, "mini-swe-agent offers bash only");

    let (records, _) = export(trajectories, Format::Hermes, ExportConfig::default());
    let messages = records[0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 7, "the final submission output is dropped");
    assert_eq!(
        messages[2]["content"],
        "<think>\nTHOUGHT: I need to look at calc/ops.py to see how clamp handles the lower bound.\n</think>\n\n\
         <tool_call>\n{\"name\": \"bash\", \"arguments\": {\"command\": \"cat -n calc/ops.py\"}}\n</tool_call>"
    );
    assert!(
        messages[3]["content"]
            .as_str()
            .unwrap()
            .starts_with("<tool_response>\n<returncode>0</returncode>")
    );
}

#[test]
fn importing_several_files_keeps_their_order() {
    let file = fixture("swe-agent/demo__calc-1.traj");
    let (trajectories, _) =
        import(Source::SweAgent, &[file.clone(), file.clone(), file.clone(), file]);
    assert_eq!(trajectories.len(), 4);
}

#[test]
fn a_missing_input_file_is_an_error_naming_it() {
    let err =
        import_files(Source::Sera, &[PathBuf::from("/nonexistent/rows.jsonl")], 4, |_| Ok(()))
            .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/rows.jsonl"), "{err}");
}

use sera_core::{ExitStatus, Role, RolloutKind};

use super::*;

/// The messages of a hermes record as (role, content) pairs.
fn contents(record: &Value) -> Vec<(String, String)> {
    record["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap().into(), m["content"].as_str().unwrap().into()))
        .collect()
}

#[test]
fn sera_rows_export_every_history_message_with_sera_system_prompt() {
    let (trajectories, problems) = import(Source::Sera, &[fixture("sera/rows.jsonl")]);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(trajectories.len(), 2);
    let t = &trajectories[0];
    assert_eq!(t.kind, RolloutKind::Imported);
    assert_eq!(t.start_function.as_deref(), Some("clamp"));
    assert_eq!(t.start_file.as_deref(), Some("calc/ops.py"));
    assert!(t.target_patch.is_some() && t.patch.is_some());
    assert!(t.metadata["problem_statement"].as_str().unwrap().starts_with("`clamp()`"));
    assert_eq!(t.tools, sera_dataset::sera::sweagent_tools());
    let history_len = t.messages.len();

    let (records, stats) = export(trajectories, Format::Hermes, ExportConfig::default());
    // The second row's assistant answers without a tool call, which SERA's think rewrite
    // rejects (and its converter raises on).
    assert_eq!(stats.dropped.get("no_tool_call"), Some(&1));
    assert_eq!(records.len(), 1);
    let messages = contents(&records[0]);
    assert_eq!(messages.len(), history_len, "SERA keeps every message");
    assert_eq!(messages[0].1, sera_dataset::sera::HERMES_DEFAULT_SYSTEM_PROMPT);
    let (role, last) = messages.last().unwrap();
    assert!(role == "user" && last.starts_with("<tool_response>\n"), "{last}");
    assert_eq!(records[0]["tool_json"], Value::from(sera_dataset::sera::sweagent_tools()));
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
    let (rows, _) = import(Source::Sera, &[fixture("sera/rows.jsonl")]);
    let (from_row, _) = export(rows, Format::Hermes, ExportConfig::default());
    assert_eq!(contents(&records[0]), contents(&from_row[0]));
}

#[test]
fn swe_agent_exit_statuses_are_compared_case_insensitively() {
    let text = std::fs::read_to_string(fixture("swe-agent/demo__calc-1.traj")).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let origin = Origin { file: "mem".into(), line: None };
    for (status, expected) in [
        ("Submitted", ExitStatus::Submitted),
        ("SUBMITTED", ExitStatus::Submitted),
        ("submitted (exit_cost)", ExitStatus::CostLimit),
        ("Exit_Context", ExitStatus::ContextOverflow),
    ] {
        value["info"]["exit_status"] = status.into();
        let t = sera_dataset::import::from_swe_agent(&value, "x", &origin).unwrap();
        assert_eq!(t.exit_status, expected, "{status}");
        assert_eq!(t.metadata["source_exit_status"], status);
    }
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
    assert_eq!(
        t.tools,
        sera_dataset::sera::mini_sweagent_tools(),
        "mini-swe-agent offers bash only"
    );

    let (records, _) = export(trajectories, Format::Hermes, ExportConfig::default());
    let messages = records[0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 8, "SERA keeps the final submission output");
    assert_eq!(messages[0]["content"], sera_dataset::sera::MINI_SWEAGENT_HERMES_SYSTEM_PROMPT);
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

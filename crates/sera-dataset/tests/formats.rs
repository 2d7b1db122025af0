use super::*;

fn one(format: Format) -> Value {
    let (records, stats) = export(vec![native()], format, lossless());
    assert_eq!(records.len(), 1, "{stats:?}");
    records.into_iter().next().unwrap()
}

#[test]
fn each_format_of_the_native_fixture_matches_its_snapshot() {
    for format in Format::ALL {
        let record = one(format);
        insta::assert_snapshot!(format.name(), serde_json::to_string_pretty(&record).unwrap());
    }
}

#[test]
fn every_format_carries_provenance() {
    for format in [Format::OpenAi, Format::Hermes, Format::Xml] {
        let meta = &one(format)["metadata"];
        for key in [
            "instance_id",
            "repo",
            "commit",
            "start_function",
            "bug_class",
            "teacher",
            "recall",
            "exit_status",
            "patch",
        ] {
            assert!(
                meta.get(key).is_some_and(|v| !v.is_null()),
                "{}: {key} missing",
                format.name()
            );
        }
    }
    let raw = one(Format::Raw);
    assert_eq!(raw["instance_id"], "i-demo-clamp");
    assert_eq!(raw["bug_class"], "off-by-one");
}

#[test]
fn hermes_system_message_lists_tool_schemas_one_per_line() {
    let record = one(Format::Hermes);
    let system = record["messages"][0]["content"].as_str().unwrap();
    let tools = &system[system.find("<tools>\n").unwrap() + 8..system.find("\n</tools>").unwrap()];
    let names: Vec<String> = tools
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["function"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["bash", "str_replace_editor", "submit"]);
    assert!(system.ends_with(
        "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
    ));
    assert_eq!(
        record["tool_json"].as_str().map(|s| s.starts_with("[{\"type\": \"function\"")),
        Some(true)
    );
}

#[test]
fn hermes_trains_on_assistant_turns_that_think_once_then_call_tools() {
    let record = one(Format::Hermes);
    let messages = record["messages"].as_array().unwrap();
    assert_eq!(messages.last().unwrap()["role"], "assistant", "the submit observation is dropped");
    for message in messages {
        let assistant = message["role"] == "assistant";
        assert_eq!(message["train"], assistant);
        let content = message["content"].as_str().unwrap();
        if assistant {
            assert!(
                content.starts_with("<think>\n") && content.matches("<think>").count() == 1,
                "{content}"
            );
            assert!(content.ends_with("</tool_call>"), "{content}");
        } else if message["role"] != "system" {
            assert!(!content.contains("<tool_call>"), "{content}");
        }
    }
    // Tool results are user turns wrapped in <tool_response>.
    assert!(
        messages[3]["content"].as_str().unwrap().starts_with("<tool_response>\nOBSERVATION:\n")
    );
    // Two calls in one turn give two blocks, joined by a newline.
    assert!(messages[4]["content"].as_str().unwrap().contains("</tool_call>\n<tool_call>\n"));
}

#[test]
fn openai_tool_calls_carry_json_string_arguments_and_tool_messages_their_ids() {
    let record = one(Format::OpenAi);
    let messages = record["messages"].as_array().unwrap();
    let call = &messages[2]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    let arguments: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(arguments["command"], "grep -n \"fn clamp\" -r src");
    assert_eq!(messages[3]["role"], "tool");
    assert_eq!(messages[3]["tool_call_id"], "call_1");
    assert_eq!(record["tools"].as_array().unwrap().len(), 3);
}

#[test]
fn xml_turns_end_in_function_blocks_and_observations_are_user_turns() {
    let record = one(Format::Xml);
    let messages = record["messages"].as_array().unwrap();
    let edit = messages[7]["content"].as_str().unwrap();
    assert!(edit.ends_with("<parameter=new_str>\n    if value < low {\n        return low;\n</parameter>\n</function>"), "{edit}");
    assert!(
        edit.contains("<function=str_replace_editor>\n<parameter=command>str_replace</parameter>")
    );
    assert_eq!(messages[3]["role"], "user");
    assert!(messages[3]["content"].as_str().unwrap().starts_with("OBSERVATION:\n"));
}

#[test]
fn more_than_one_think_block_drops_the_trajectory() {
    let mut t = native();
    t.messages[2].content = "<think>a</think> and <think>b</think>".into();
    let (records, stats) = export(vec![t], Format::Hermes, lossless());
    assert!(records.is_empty());
    assert_eq!(stats.dropped.get("multiple_think"), Some(&1));
}

#[test]
fn an_assistant_turn_without_a_tool_call_drops_the_trajectory() {
    let mut t = native();
    t.messages[4].tool_calls.clear();
    let (records, stats) = export(vec![t], Format::OpenAi, lossless());
    assert!(records.is_empty());
    assert_eq!(stats.dropped.get("no_tool_call"), Some(&1));
}

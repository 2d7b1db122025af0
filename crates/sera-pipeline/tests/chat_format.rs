//! One chat format: a trajectory reaches the model as the same ChatML bytes whichever way it
//! goes. The lossless `hermes` export and the `openai` export, each read by `sera train`, and
//! the text a teacher without a tool parser is sent, all render through `sera_chat`; this test
//! runs the three real paths on the same trajectories and compares the bytes.

use std::path::{Path, PathBuf};

use serde_json::Value;

use sera_chat::chatml::{self, Turn};
use sera_core::{Role, Trajectory};
use sera_dataset::{Compat, ExportConfig, Format, Output, Tokenizer};

fn native() -> Trajectory {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/trajectories/native.jsonl");
    let text = std::fs::read_to_string(path).expect("fixture");
    serde_json::from_str(text.lines().next().expect("one line")).expect("a trajectory")
}

/// The native fixture and a variant of it with no system message and the reasoning written
/// inline as `<think>` blocks, as servers without a reasoning parser return it.
fn trajectories() -> Vec<Trajectory> {
    let native = native();
    let mut inline = native.clone();
    inline.id.push_str("-inline");
    inline.instance_id.push_str("-inline");
    inline.messages.retain(|m| m.role != Role::System);
    for message in &mut inline.messages {
        if let Some(reasoning) = message.reasoning.take() {
            message.content = format!("<think>\n{reasoning}\n</think>\n\n{}", message.content);
        }
    }
    vec![native, inline]
}

fn records(dir: &Path, format: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(format).join("train.jsonl")).expect("export");
    text.lines().map(|line| serde_json::from_str(line).expect("JSON")).collect()
}

fn trained(record: &Value) -> String {
    let conversation = sera_train::data::parse_record(record).expect("sera train reads it");
    chatml::render(&conversation.turns)
}

#[test]
fn export_train_and_rollout_render_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input: PathBuf = dir.path().join("trajectories.jsonl");
    let lines: Vec<String> =
        trajectories().iter().map(|t| serde_json::to_string(t).expect("serialises")).collect();
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    let out = dir.path().join("dataset");
    let config = ExportConfig {
        formats: vec![Format::Hermes, Format::OpenAi],
        compat: Compat::Lossless,
        ..ExportConfig::default()
    };
    let stats = sera_dataset::export(
        std::slice::from_ref(&input),
        &Tokenizer::embedded(),
        &config,
        &Output::Dir(out.clone()),
    )
    .expect("export");
    let hermes = records(&out, "hermes");
    let openai = records(&out, "openai");
    assert_eq!((hermes.len(), openai.len()), (2, 2), "{stats:?}");

    for ((trajectory, hermes), openai) in trajectories().iter().zip(&hermes).zip(&openai) {
        let from_hermes = trained(hermes);
        let from_openai = trained(openai);
        assert_eq!(from_hermes, from_openai, "{}", trajectory.id);

        // The teacher is sent the conversation so far; the export keeps it up to the last
        // assistant turn (the final tool result teaches nothing).
        let kept = trajectory.messages.iter().rposition(|m| m.role == Role::Assistant).unwrap() + 1;
        let sent =
            sera_rollout::openai::text_messages(&trajectory.messages[..kept], &trajectory.tools);
        let turns: Vec<Turn> = sent
            .iter()
            .map(|m| {
                let role = m["role"].as_str().expect("role");
                Turn::new(role, m["content"].as_str().expect("content"), role == "assistant")
            })
            .collect();
        assert_eq!(chatml::render(&turns), from_hermes, "{}", trajectory.id);

        // What the bytes hold: one think block per assistant turn with the reasoning as
        // written, the tools in the system turn as Python's json.dumps writes them.
        assert!(from_hermes.starts_with("<|im_start|>system\n"));
        assert!(from_hermes.contains("<tools>\n{\"type\": \"function\""));
        assert!(from_hermes.contains("<think>\nThe lower branch returns `high`"));
        assert!(
            from_hermes.contains("in range; values below it must give `low` \u{2014} fix both.")
        );
        let assistant_turns = from_hermes.matches("<|im_start|>assistant\n<think>\n").count();
        assert_eq!(assistant_turns, kept_assistants(trajectory));
    }
    // The two trajectories differ only in where the reasoning and the system prompt live.
    let native = trained(&hermes[0]);
    let inline = trained(&hermes[1]);
    assert_eq!(
        native.split_once("<|im_start|>user\n").unwrap().1,
        inline.split_once("<|im_start|>user\n").unwrap().1
    );
}

fn kept_assistants(trajectory: &Trajectory) -> usize {
    trajectory.messages.iter().filter(|m| m.role == Role::Assistant).count()
}

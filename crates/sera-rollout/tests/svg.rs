//! The SVG loop with a model teacher played by the scripted server, on the py-demo fixture in
//! a real sandbox: an attempt without a change is not judged and a new class is drawn, a judge
//! answer without a tag is retried, the issue is written from a demonstration, and rollout 2
//! sees only the issue on a fresh copy.

use std::path::Path;
use std::sync::Mutex;

use sera_core::{ExitStatus, Role, RolloutKind};
use sera_rollout::svg::{self, StartFunction, SvgConfig};
use sera_rollout::test_server::{Scripted, TestServer, request_text};
use sera_rollout::{OpenAiConfig, OpenAiTeacher, Oracle, RolloutError};
use sera_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

fn py_demo() -> tempfile::TempDir {
    sera_test_support::fixture("py-demo")
}

const ISSUE: &str =
    "Adding zero units of an item is accepted in some code paths and rejected in others.";

fn edit() -> Scripted {
    Scripted::tool_call(
        "str_replace_editor",
        json!({"command": "str_replace", "path": "/testbed/inventory/core.py",
               "old_str": "        if quantity <= 0:\n            raise ValueError",
               "new_str": "        if quantity < 1:\n            raise ValueError"}),
    )
}

/// Plays: rollout-1 attempt 1 submits nothing; attempt 2 edits and submits; the judge first
/// forgets its tag, then says yes; the issue writer answers; rollout 2 makes the same edit.
fn server() -> TestServer {
    let fresh_rollouts = Mutex::new(0usize);
    let judge_calls = Mutex::new(0usize);
    TestServer::start(move |body, _| {
        let text = request_text(body);
        if body.get("tools").is_none() {
            if text.contains("<initial_prompt>") {
                let mut calls = judge_calls.lock().expect("lock");
                *calls += 1;
                return if *calls == 1 {
                    Scripted::text("It looks reasonable to me.")
                } else {
                    Scripted::text(
                        "<think>checking</think>The change matches. <OUTPUT>Yes</OUTPUT>",
                    )
                };
            }
            return Scripted::text(&format!("Here it is.\n<output>{ISSUE}</output>"));
        }
        let turn = body["messages"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["role"] == "assistant").count());
        if turn == 0 && !text.contains(ISSUE) {
            *fresh_rollouts.lock().expect("lock") += 1;
        }
        let attempt = *fresh_rollouts.lock().expect("lock");
        let second = text.contains(ISSUE);
        match (second, attempt, turn) {
            (false, 1, _) => Scripted::tool_call("submit", json!({})),
            (_, _, 0) => edit(),
            _ => Scripted::tool_call("submit", json!({})),
        }
    })
    .expect("server")
}

#[test]
fn svg_loop_draws_new_classes_judges_writes_an_issue_and_solves_it_again() {
    let repo = py_demo();
    let server = server();
    let teacher = OpenAiTeacher::new(OpenAiConfig::new(&server.base_url(), "svg-model"));
    let sandbox =
        Sandbox::new(SandboxConfig::default()).expect("bubblewrap works on the test machine");
    let start = StartFunction {
        repo: "py-demo".into(),
        commit: None,
        function: "inventory.core.Inventory.add".into(),
        file: "inventory/core.py".into(),
    };
    let registry = sera_taxonomy::Registry::builtin();
    let config = SvgConfig::default();

    let first = svg::first_rollout(&sandbox, repo.path(), &start, &registry, &teacher, &config)
        .expect("rollout 1");
    assert_eq!(first.attempts.len(), 2);
    assert_eq!(first.accepted, Some(1));
    let (a1, a2) = (&first.attempts[0], &first.attempts[1]);
    assert_eq!(a1.metadata["self_check"], json!("unknown"));
    assert_eq!(a2.metadata["self_check"], json!("yes"));
    assert_ne!(a1.bug_class, a2.bug_class, "each attempt draws a new class");
    assert_eq!(a2.kind, RolloutKind::SvgFirst);
    let prompt = a2.metadata["prompt"].as_str().expect("prompt");
    assert!(
        prompt.contains("inventory.core.Inventory.add") || prompt.contains("inventory/core.py"),
        "{prompt}"
    );
    let p1 = a2.patch.clone().expect("P1");
    assert!(p1.render().contains("+        if quantity < 1:"));

    let pool = svg::parse_demonstrations(svg::DEFAULT_DEMONSTRATIONS).expect("pool");
    let issue = svg::write_issue(&teacher, a2, &pool[0], &config).expect("issue");
    assert_eq!(issue, ISSUE);

    let t2 = svg::second_rollout(&sandbox, repo.path(), &start, &issue, &p1, &teacher, &config)
        .expect("rollout 2");
    assert_eq!(t2.kind, RolloutKind::SvgSecond);
    assert_eq!(t2.exit_status, ExitStatus::Submitted);
    assert_eq!(t2.patch.as_ref().map(|p| p.render()), Some(p1.render()));
    assert_eq!(t2.target_patch.as_ref(), Some(&p1));
    let task = &t2.messages[1];
    assert_eq!(task.role, Role::User);
    assert!(task.content.contains(ISSUE) && !task.content.contains(prompt));

    // Judge and issue calls carry no tools and SERA's 4,096-token cap; the issue writer saw
    // the demonstration.
    let requests = server.requests();
    let plain: Vec<&Value> =
        requests.iter().map(|r| &r.body).filter(|b| b.get("tools").is_none()).collect();
    assert_eq!(plain.len(), 3);
    assert!(plain.iter().all(|b| b["max_tokens"] == json!(4096)));
    let writer = request_text(plain[2]);
    assert!(
        writer.contains(&format!("<demonstration_issue>\n{}\n</demonstration_issue>", pool[0]))
    );
    // SERA's shape: a system prompt, the steps as JSON, and never the diff.
    for body in &plain {
        assert_eq!(body["messages"][0]["role"], json!("system"));
        assert_eq!(body["messages"].as_array().map(Vec::len), Some(2));
    }
    assert!(writer.contains(
        "<fix_steps>\n[{\"action\": \"str_replace_editor str_replace /testbed/inventory/core.py"
    ));
    // Like SERA, the diff reaches the writer only inside the steps (submit's review shows it).
    let after_steps = writer.split("</fix_steps>").nth(1).expect("steps end");
    assert!(!after_steps.contains("diff --git"), "{writer}");
    // The judge saw the task message rollout 1 was given.
    assert!(
        request_text(plain[0])
            .contains(&format!("<initial_prompt>\n{}\n</initial_prompt>", a2.messages[1].content))
    );
    // The retried judge call dropped the first quarter of the steps (2 steps: none).
    assert!(request_text(plain[1]).len() <= request_text(plain[0]).len());
    assert_eq!(a2.metadata[svg::SKIPPED_STEPS], json!(0));
}

#[test]
fn the_oracle_refuses_svg_rollout_one_before_touching_the_repository() {
    let sandbox =
        Sandbox::new(SandboxConfig::default()).expect("bubblewrap works on the test machine");
    let start =
        StartFunction { repo: "x".into(), commit: None, function: "f".into(), file: "a.py".into() };
    let registry = sera_taxonomy::Registry::builtin();
    let err = svg::first_rollout(
        &sandbox,
        Path::new("/nonexistent"),
        &start,
        &registry,
        &Oracle,
        &SvgConfig::default(),
    )
    .expect_err("refused");
    assert!(matches!(err, RolloutError::Unsupported(_)));
    assert!(err.to_string().contains("the oracle teacher cannot do SVG rollout 1"), "{err}");
}

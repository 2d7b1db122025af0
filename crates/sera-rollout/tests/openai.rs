//! The `openai` teacher against the scripted local server: native and Hermes tool calls,
//! reasoning, malformed calls, refusals, 5xx and 429 retries, timeouts, slow answers and
//! context overflow, each driven through the real step loop.
//!
//! The environment here runs `bash` through a fake shell that echoes the command, so these
//! tests exercise the teacher and the loop, not the sandbox (see `oracle.rs` for that).

use std::time::Duration;

use sera_core::{ExitStatus, Message, Role, RolloutKind};
use sera_rollout::test_server::{Scripted, TestServer};
use sera_rollout::{
    Environment, LoopConfig, LoopOutcome, OpenAiConfig, OpenAiTeacher, Shell, ShellOutput, Task,
    Teacher, prompts, run_loop,
};
use serde_json::{Value, json};

/// Echoes the command it is given, so observations are predictable.
struct EchoShell;

impl Shell for EchoShell {
    fn run(&mut self, command: &str, _timeout: Duration) -> Result<ShellOutput, String> {
        Ok(ShellOutput {
            output: format!("ran: {command}\n"),
            exit_code: Some(0),
            timed_out: false,
        })
    }
}

fn teacher(server: &TestServer) -> OpenAiTeacher {
    let mut config = OpenAiConfig::new(&server.base_url(), "test-model");
    config.request_timeout = Duration::from_millis(700);
    config.initial_backoff = Duration::from_millis(10);
    config.max_backoff = Duration::from_millis(50);
    config.max_retries = 3;
    OpenAiTeacher::new(config)
}

/// Runs a whole rollout in a temp tree holding `a.txt`.
fn rollout(teacher: &dyn Teacher) -> (LoopOutcome, tempfile::TempDir) {
    rollout_with(teacher, "Say hi properly.", &LoopConfig::default())
}

/// Runs a whole rollout of the task `issue` under `limits` in a temp tree holding `a.txt`.
fn rollout_with(
    teacher: &dyn Teacher,
    issue: &str,
    limits: &LoopConfig,
) -> (LoopOutcome, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), "hello\n").expect("write");
    let mut env =
        Environment::new(dir.path(), "/testbed", Box::new(EchoShell), Duration::from_secs(5))
            .expect("env");
    let tools = prompts::tool_schemas("/testbed");
    let task = Task {
        kind: RolloutKind::Procedural,
        workdir: "/testbed",
        tools: &tools,
        instance: None,
        seed: 1,
    };
    let messages = vec![
        Message::text(Role::System, prompts::SYSTEM_PROMPT),
        Message::text(
            Role::User,
            prompts::task_message("/testbed", issue, prompts::TaskLanguage::Other),
        ),
    ];
    let outcome = run_loop(&mut env, teacher, &task, messages, limits);
    (outcome, dir)
}

fn edit() -> Scripted {
    Scripted::tool_call(
        "str_replace_editor",
        json!({"command": "str_replace", "path": "/testbed/a.txt", "old_str": "hello", "new_str": "hi"}),
    )
}

fn submit() -> Scripted {
    Scripted::tool_call("submit", json!({}))
}

fn tool_messages(outcome: &LoopOutcome) -> Vec<&str> {
    outcome.messages.iter().filter(|m| m.role == Role::Tool).map(|m| m.content.as_str()).collect()
}

#[test]
fn native_tool_calls_run_to_a_submitted_patch_with_usage_and_reasoning() {
    let server = TestServer::scripted(vec![
        Scripted::tool_call("bash", json!({"command": "cat a.txt"})),
        edit(),
        submit(),
        submit(),
    ])
    .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server).with_api_key("sk-test"));
    assert_eq!(outcome.exit_status, ExitStatus::Submitted);
    let patch = outcome.patch.as_ref().expect("patch").render();
    assert!(patch.contains("-hello\n+hi\n"), "{patch}");
    assert_eq!(outcome.usage.prompt_tokens, 400);
    assert_eq!(outcome.usage.completion_tokens, 40);
    let tools = tool_messages(&outcome);
    assert_eq!(tools[0], "OBSERVATION:\nran: cat a.txt\n");
    assert!(
        tools[2].contains("Thank you for your work on this issue.") && tools[2].contains("+hi")
    );
    let first = &outcome.messages[2];
    assert_eq!(first.reasoning.as_deref(), Some("I should call bash."));
    assert_eq!(first.tool_calls[0].id, "call_1_0");

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].path, "/v1/chat/completions");
    assert_eq!(requests[0].body["temperature"], json!(0.6));
    assert_eq!(requests[0].body["model"], json!("test-model"));
    assert_eq!(requests[0].body["tools"].as_array().map(Vec::len), Some(3));
    assert!(requests[0].headers.contains(&("authorization".into(), "Bearer sk-test".into())));
    // The second request carries the first turn and its observation, tool-call id and all.
    let sent = &requests[1].body["messages"];
    assert_eq!(sent[2]["tool_calls"][0]["id"], json!("call_1_0"));
    assert_eq!(
        sent[2]["tool_calls"][0]["function"]["arguments"],
        json!("{\"command\":\"cat a.txt\"}")
    );
    assert_eq!(sent[3]["role"], json!("tool"));
    assert_eq!(sent[3]["tool_call_id"], json!("call_1_0"));
}

#[test]
fn hermes_blocks_in_text_and_think_tags_are_read() {
    let hermes = |call: Value| {
        Scripted::text(&format!(
            "<think>\nLet me act.\n</think>\n\n<tool_call>\n{call}\n</tool_call>"
        ))
    };
    let server = TestServer::scripted(vec![
        hermes(json!({"name": "str_replace_editor", "arguments": {"command": "str_replace", "path": "/testbed/a.txt", "old_str": "hello", "new_str": "hi"}})),
        hermes(json!({"name": "submit", "arguments": {}})),
        hermes(json!({"name": "submit", "arguments": {}})),
    ])
    .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::Submitted);
    assert_eq!(outcome.messages[2].reasoning.as_deref(), Some("Let me act."));
    assert_eq!(outcome.messages[2].content, "");
    assert!(outcome.patch.expect("patch").render().contains("+hi"));
}

#[test]
fn a_malformed_call_is_a_format_error_that_is_retried_and_left_out_of_the_record() {
    let server = TestServer::scripted(vec![
        Scripted::text("<tool_call>{\"name\": \"bash\", \"arguments\": {\"command\": </tool_call>"),
        edit(),
        submit(),
        submit(),
    ])
    .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::Submitted);
    assert_eq!(outcome.format_errors, 1);
    assert_eq!(outcome.steps, 4);
    // Recorded: system, task, then the good turns only.
    assert_eq!(outcome.messages[2].tool_calls[0].name, "str_replace_editor");
    // The teacher was told what went wrong.
    let second = &server.requests()[1].body["messages"];
    // SWE-agent's template for a call it cannot parse, with the reason the block was refused.
    let told = second[3]["content"].as_str().unwrap_or_default();
    assert_eq!(
        told,
        "Your action could not be parsed properly: the <tool_call> block is not valid JSON (EOF while parsing a value at line 1 column 41): {\"name\": \"bash\", \"arguments\": {\"command\": .\n"
    );
}

#[test]
fn three_consecutive_refusals_end_the_run_as_a_format_error() {
    let refusal = Scripted::message(
        json!({"role": "assistant", "content": null, "refusal": "I can't help with that."}),
    );
    let server =
        TestServer::scripted(vec![refusal.clone(), refusal.clone(), refusal]).expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::FormatError);
    assert_eq!(outcome.format_errors, 3);
    assert_eq!(outcome.messages.len(), 2);
    assert!(outcome.patch.is_some_and(|p| p.is_empty()));
}

#[test]
fn server_errors_and_rate_limits_are_retried_with_backoff() {
    let server = TestServer::scripted(vec![
        Scripted::error(500, "boom"),
        Scripted::Raw {
            status: 429,
            headers: vec![("Retry-After".into(), "0".into())],
            body: "{}".into(),
        },
        Scripted::error(503, "loading"),
        edit(),
        submit(),
        submit(),
    ])
    .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::Submitted);
    assert_eq!(server.requests().len(), 6);
}

#[test]
fn persistent_server_errors_end_the_run_as_a_teacher_error() {
    let server = TestServer::start(|_, _| Scripted::error(502, "bad gateway")).expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::TeacherError);
    let error = outcome.error.expect("error");
    assert!(error.contains("HTTP 502") && error.contains("gave up after 4 attempts"), "{error}");
}

#[test]
fn a_hung_request_times_out_and_is_retried_and_slow_answers_are_waited_for() {
    let slow = |s: Scripted| Scripted::Delay(Duration::from_millis(300), Box::new(s));
    let server = TestServer::scripted(vec![
        Scripted::Delay(Duration::from_secs(3), Box::new(edit())),
        slow(edit()),
        slow(submit()),
        slow(submit()),
    ])
    .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::Submitted);
    assert_eq!(server.requests().len(), 4);
}

#[test]
fn a_dropped_connection_is_retried() {
    let server =
        TestServer::scripted(vec![Scripted::Drop, edit(), submit(), submit()]).expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::Submitted);
}

#[test]
fn a_context_length_rejection_ends_the_run_as_a_context_overflow() {
    let server = TestServer::scripted(vec![
        edit(),
        Scripted::error(400, "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens."),
    ])
    .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::ContextOverflow);
    assert_eq!(server.requests().len(), 2);
    // The change made before the overflow is still recorded.
    assert!(outcome.patch.expect("patch").render().contains("+hi"));
}

#[test]
fn other_client_errors_fail_at_once() {
    let server =
        TestServer::scripted(vec![Scripted::error(404, "The model `nope` does not exist.")])
            .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::TeacherError);
    assert_eq!(server.requests().len(), 1);
    assert!(outcome.error.expect("error").contains("HTTP 404"));
}

#[test]
fn the_step_limit_stops_a_teacher_that_never_submits() {
    let server = TestServer::start(|_, _| Scripted::tool_call("bash", json!({"command": "ls"})))
        .expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env =
        Environment::new(dir.path(), "/testbed", Box::new(EchoShell), Duration::from_secs(5))
            .expect("env");
    let tools = prompts::tool_schemas("/testbed");
    let task = Task {
        kind: RolloutKind::Procedural,
        workdir: "/testbed",
        tools: &tools,
        instance: None,
        seed: 1,
    };
    let messages = vec![Message::text(Role::User, "go")];
    let limits = LoopConfig { step_limit: 5, ..LoopConfig::default() };
    let outcome = run_loop(&mut env, &teacher(&server), &task, messages, &limits);
    assert_eq!(outcome.exit_status, ExitStatus::StepLimit);
    assert_eq!(outcome.steps, 5);
    let limits = LoopConfig { token_limit: Some(250), ..LoopConfig::default() };
    let outcome = run_loop(
        &mut env,
        &teacher(&server),
        &task,
        vec![Message::text(Role::User, "go")],
        &limits,
    );
    assert_eq!(outcome.exit_status, ExitStatus::CostLimit);
    assert_eq!(outcome.steps, 3);
}

/// Runs only when `SERA_TEST_OPENAI_URL` points at a real server (model from
/// `SERA_TEST_OPENAI_MODEL`, key from `OPENAI_API_KEY`): one short rollout must end without a
/// teacher error.
#[test]
fn a_real_server_answers_when_configured() {
    let Ok(url) = std::env::var("SERA_TEST_OPENAI_URL") else {
        eprintln!(
            "skipped: set SERA_TEST_OPENAI_URL (and SERA_TEST_OPENAI_MODEL) to run against a real server"
        );
        return;
    };
    let model = std::env::var("SERA_TEST_OPENAI_MODEL").unwrap_or_else(|_| "default".into());
    let mut config = OpenAiConfig::new(&url, &model);
    config.max_tokens = Some(2048);
    let limits = LoopConfig { step_limit: 8, ..LoopConfig::default() };
    let issue = "The file a.txt should say `hi`, not `hello`.";
    let (outcome, _dir) = rollout_with(&OpenAiTeacher::new(config), issue, &limits);
    assert!(
        !matches!(outcome.exit_status, ExitStatus::TeacherError),
        "teacher error: {:?}",
        outcome.error
    );
    assert!(outcome.usage.prompt_tokens > 0);
}

#[test]
fn a_server_without_a_tool_parser_gets_the_tools_in_the_text() {
    let server = TestServer::start(|body, _| {
        if body.get("tools").is_some() {
            return Scripted::error(
                400,
                "\"auto\" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set",
            );
        }
        let turn = body["messages"]
            .as_array()
            .map_or(0, |m| m.iter().filter(|m| m["role"] == "assistant").count());
        let call = match turn {
            0 => json!({"name": "str_replace_editor", "arguments": {"command": "str_replace", "path": "/testbed/a.txt", "old_str": "hello", "new_str": "hi"}}),
            _ => json!({"name": "submit", "arguments": {}}),
        };
        Scripted::text(&format!("<think>go</think>\n<tool_call>\n{call}\n</tool_call>"))
    })
    .expect("server");
    let (outcome, _dir) = rollout(&teacher(&server));
    assert_eq!(outcome.exit_status, ExitStatus::Submitted);
    assert!(outcome.patch.expect("patch").render().contains("+hi"));
    let requests = server.requests();
    assert!(requests[0].body.get("tools").is_some());
    let last = &requests.last().expect("requests").body;
    assert!(last.get("tools").is_none());
    let sent = last["messages"].as_array().expect("messages");
    let system = sent[0]["content"].as_str().unwrap_or_default();
    assert!(
        system.starts_with(prompts::SYSTEM_PROMPT)
            && system.contains("<tools>\n{\"type\": \"function\""),
        "{system}"
    );
    assert!(
        sent[2]["content"]
            .as_str()
            .unwrap_or_default()
            .starts_with("<think>\ngo\n</think>\n\n<tool_call>\n{\"name\": \"str_replace_editor\"")
    );
    assert_eq!(sent[3]["role"], json!("user"));
    assert!(
        sent[3]["content"]
            .as_str()
            .unwrap_or_default()
            .starts_with("<tool_response>\nOBSERVATION:\n")
    );
    // Once switched, the teacher does not ask with native tools again.
    assert_eq!(requests.iter().filter(|r| r.body.get("tools").is_some()).count(), 1);
}

//! The `openai` teacher: any OpenAI-compatible `/v1/chat/completions` server (vLLM, SGLang,
//! llama.cpp server, Ollama, hosted APIs). The HTTP client (`ureq`) is used from this module
//! only.
//!
//! Requests carry the tool schemas; answers are read by [`crate::parse`], which accepts native
//! `tool_calls` as well as Hermes `<tool_call>` blocks in the text. Rate limits (429), server
//! errors (5xx), timeouts and dropped connections are retried with exponential backoff
//! (honouring `Retry-After`); a context-length rejection ends the rollout as a context overflow;
//! other client errors (bad model name, bad key) fail at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sera_core::{Message, Role};
use serde_json::{Value, json};

use crate::parse;
use crate::teacher::{Reply, Task, Teacher, TeacherError};

/// Output-token cap of calls without tools (the SVG self-check and issue writer).
pub const JUDGE_MAX_TOKENS: u32 = 4096;

/// How to reach and sample the teacher. Plain data; start from [`OpenAiConfig::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiConfig {
    /// The server's base URL, with or without the trailing `/v1`, e.g. `http://localhost:8000/v1`.
    pub base_url: String,
    pub model: String,
    /// Sampling temperature (SERA: 0.6).
    pub temperature: f64,
    /// `max_tokens` per answer; `None` leaves it to the server.
    pub max_tokens: Option<u32>,
    /// The environment variable holding the API key, sent as a bearer token when set.
    pub api_key_env: String,
    /// Wall-clock limit for one request, answer included.
    pub request_timeout: Duration,
    /// Retries after the first attempt for 429, 5xx, timeouts and connection failures.
    pub max_retries: u32,
    /// First backoff; doubled per retry, capped at [`OpenAiConfig::max_backoff`].
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Put the tool schemas in the system prompt and tool calls and results in the text
    /// (Hermes style) instead of using the API's `tools`. Switched on by itself when the
    /// server says it cannot parse tool calls (vLLM without `--enable-auto-tool-choice`,
    /// llama.cpp without `--jinja`).
    pub tools_in_text: bool,
}

impl OpenAiConfig {
    /// SERA's sampling defaults for `model` served at `base_url`.
    pub fn new(base_url: &str, model: &str) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base_url.to_string(),
            model: model.to_string(),
            temperature: 0.6,
            max_tokens: None,
            api_key_env: "OPENAI_API_KEY".to_string(),
            request_timeout: Duration::from_secs(600),
            max_retries: 6,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            tools_in_text: false,
        }
    }

    /// The full chat-completions URL.
    pub fn endpoint(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        if base.ends_with("/chat/completions") {
            base.to_string()
        } else if base.ends_with("/v1") {
            format!("{base}/chat/completions")
        } else {
            format!("{base}/v1/chat/completions")
        }
    }
}

/// A teacher served over HTTP. Cheap to share between threads: one connection pool for all
/// rollouts in flight.
#[derive(Debug, Clone)]
pub struct OpenAiTeacher {
    config: OpenAiConfig,
    api_key: Option<String>,
    agent: ureq::Agent,
    /// Set once the server has refused native tools; shared by every rollout in flight.
    text_tools: Arc<AtomicBool>,
}

impl OpenAiTeacher {
    /// Reads the API key from the configured environment variable (it may be unset, as it is
    /// for most local servers).
    pub fn new(config: OpenAiConfig) -> OpenAiTeacher {
        let api_key = std::env::var(&config.api_key_env).ok().filter(|key| !key.is_empty());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.request_timeout))
            .http_status_as_error(false)
            .max_idle_connections_per_host(256)
            .build()
            .into();
        let text_tools = Arc::new(AtomicBool::new(config.tools_in_text));
        OpenAiTeacher { config, api_key, agent, text_tools }
    }

    /// Uses `key` as the API key whatever the environment holds.
    pub fn with_api_key(mut self, key: &str) -> OpenAiTeacher {
        self.api_key = Some(key.to_string());
        self
    }

    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// Checks that the server's host and port accept a connection, so that a run can fail with
    /// a clear message before any work starts rather than after its first rollout's retries.
    /// It says nothing about the model being served: that shows on the first request.
    pub fn check_reachable(&self) -> Result<(), String> {
        use std::net::{TcpStream, ToSocketAddrs};
        let url = self.config.base_url.as_str();
        let (rest, default_port) = if let Some(rest) = url.strip_prefix("http://") {
            (rest, 80)
        } else if let Some(rest) = url.strip_prefix("https://") {
            (rest, 443)
        } else {
            return Err(format!("{url}: the base URL must start with http:// or https://"));
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let address =
            if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok())
                || authority.ends_with(']') && authority.contains("]:")
            {
                authority.to_string()
            } else {
                format!("{authority}:{default_port}")
            };
        let addresses = address
            .to_socket_addrs()
            .map_err(|err| format!("{url}: cannot resolve {address}: {err}"))?;
        let timeout = self.config.request_timeout.min(Duration::from_secs(10));
        let mut last = None;
        for socket in addresses {
            match TcpStream::connect_timeout(&socket, timeout) {
                Ok(_) => return Ok(()),
                Err(err) => last = Some(err),
            }
        }
        Err(match last {
            Some(err) => format!("{url}: the teacher server cannot be reached: {err}"),
            None => format!("{url}: {address} resolves to no address"),
        })
    }

    /// One chat completion for `messages` with `tools` and the configured sampling; `overrides`
    /// (e.g. a lower `max_tokens` for a judge call) replace top-level request fields.
    pub fn complete(
        &self,
        messages: &[Message],
        tools: &[Value],
        overrides: Option<&Value>,
    ) -> Result<Reply, TeacherError> {
        let text_mode = !tools.is_empty() && self.text_tools.load(Ordering::SeqCst);
        let wire: Vec<Value> = if text_mode {
            text_messages(messages, tools)
        } else {
            messages.iter().map(wire_message).collect()
        };
        let mut body = json!({
            "model": self.config.model,
            "messages": wire,
            "temperature": self.config.temperature,
        });
        if !tools.is_empty() && !text_mode {
            body["tools"] = Value::Array(tools.to_vec());
            body["tool_choice"] = json!("auto");
        }
        if let Some(max_tokens) = self.config.max_tokens {
            body["max_tokens"] = json!(max_tokens);
        }
        if let Some(Value::Object(extra)) = overrides {
            for (key, value) in extra {
                body[key] = value.clone();
            }
        }
        let payload = body.to_string();
        let endpoint = self.config.endpoint();
        let mut attempt = 0;
        loop {
            let failure = match self.post(&endpoint, &payload) {
                Ok(Answer { status: 200..=299, body, .. }) => return parse::completion(&body),
                Ok(Answer { status, body, .. })
                    if !text_mode && !tools.is_empty() && refuses_tools(status, &body) =>
                {
                    // The server cannot parse tool calls: carry them in the text from now on.
                    self.text_tools.store(true, Ordering::SeqCst);
                    return self.complete(messages, tools, overrides);
                }
                Ok(Answer { status, body, retry_after }) => {
                    if is_context_overflow(status, &body) {
                        return Err(TeacherError::ContextOverflow(format!(
                            "HTTP {status}: {}",
                            short(&body)
                        )));
                    }
                    if status == 429 || status == 408 || status >= 500 {
                        Failure { message: format!("HTTP {status}: {}", short(&body)), retry_after }
                    } else {
                        return Err(TeacherError::Protocol(format!(
                            "{endpoint} answered HTTP {status}: {}",
                            short(&body)
                        )));
                    }
                }
                Err(Transport { message, retryable: true }) => {
                    Failure { message, retry_after: None }
                }
                Err(Transport { message, retryable: false }) => {
                    return Err(TeacherError::Unavailable(format!("{endpoint}: {message}")));
                }
            };
            if attempt >= self.config.max_retries {
                return Err(TeacherError::Unavailable(format!(
                    "{endpoint}: {} (gave up after {} attempts)",
                    failure.message,
                    attempt + 1
                )));
            }
            let backoff = self
                .config
                .initial_backoff
                .saturating_mul(1 << attempt.min(16))
                .min(self.config.max_backoff);
            std::thread::sleep(
                failure.retry_after.map_or(backoff, |wait| wait.min(self.config.max_backoff)),
            );
            attempt += 1;
        }
    }

    fn post(&self, endpoint: &str, payload: &str) -> Result<Answer, Transport> {
        let mut request = self.agent.post(endpoint).header("Content-Type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("Authorization", format!("Bearer {key}"));
        }
        let mut response = request.send(payload).map_err(transport)?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(transport)?;
        Ok(Answer { status, body, retry_after })
    }
}

impl Teacher for OpenAiTeacher {
    fn name(&self) -> String {
        format!("openai:{}", self.config.model)
    }

    fn reply(&self, task: &Task<'_>, messages: &[Message]) -> Result<Reply, TeacherError> {
        if task.tools.is_empty() {
            // A call without tools is a judge or issue-writer call: SERA capped those at 4,096
            // output tokens.
            let cap =
                self.config.max_tokens.map_or(JUDGE_MAX_TOKENS, |max| max.min(JUDGE_MAX_TOKENS));
            return self.complete(messages, task.tools, Some(&json!({"max_tokens": cap})));
        }
        self.complete(messages, task.tools, None)
    }
}

struct Answer {
    status: u16,
    body: String,
    retry_after: Option<Duration>,
}

struct Transport {
    message: String,
    retryable: bool,
}

struct Failure {
    message: String,
    retry_after: Option<Duration>,
}

fn transport(err: ureq::Error) -> Transport {
    let retryable = matches!(
        err,
        ureq::Error::Timeout(_)
            | ureq::Error::Io(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::Protocol(_)
    );
    Transport { message: err.to_string(), retryable }
}

/// vLLM, SGLang, llama.cpp and OpenAI all answer 400 with a message naming the context length.
fn is_context_overflow(status: u16, body: &str) -> bool {
    if status != 400 && status != 413 {
        return false;
    }
    let lower = body.to_ascii_lowercase();
    [
        "context length",
        "context_length",
        "maximum context",
        "context window",
        "too many tokens",
        "prompt is too long",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// vLLM started without a tool parser, or llama.cpp without `--jinja`, reject `tools`.
fn refuses_tools(status: u16, body: &str) -> bool {
    if !(400..600).contains(&status) {
        return false;
    }
    let lower = body.to_ascii_lowercase();
    [
        "--enable-auto-tool-choice",
        "--tool-call-parser",
        "--jinja",
        "tools param requires",
        "does not support tools",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// The conversation with tools carried in the text, for servers without a tool parser: the
/// turns [`sera_chat::hermes`] renders (schemas in the system turn inside `<tools>`, reasoning
/// in a `<think>` block, calls as `<tool_call>` blocks, results as user turns inside
/// `<tool_response>`), the same bytes the lossless `hermes` export trains on.
pub fn text_messages(messages: &[Message], tools: &[Value]) -> Vec<Value> {
    sera_chat::hermes::conversation(messages, tools)
        .into_iter()
        .map(|turn| json!({"role": turn.role, "content": turn.content}))
        .collect()
}

fn short(body: &str) -> String {
    let text: String = body.chars().take(300).collect();
    text.trim().to_string()
}

/// A recorded message in chat-completions form. Reasoning is not sent back: chat templates of
/// reasoning models drop earlier turns' reasoning anyway.
fn wire_message(message: &Message) -> Value {
    match message.role {
        Role::Assistant if !message.tool_calls.is_empty() => json!({
            "role": "assistant",
            "content": if message.content.is_empty() { Value::Null } else { json!(message.content) },
            "tool_calls": message.tool_calls.iter().map(|call| json!({
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": Value::Object(call.arguments.clone()).to_string()},
            })).collect::<Vec<_>>(),
        }),
        Role::Tool => json!({
            "role": "tool",
            "tool_call_id": message.tool_call_id.clone().unwrap_or_default(),
            "content": message.content,
        }),
        role => json!({"role": role.name(), "content": message.content}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_server_is_reported_with_its_url() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let teacher = OpenAiTeacher::new(OpenAiConfig::new("http://127.0.0.1:1/v1", "m"));
        let err = teacher.check_reachable().unwrap_err();
        assert!(
            err.starts_with("http://127.0.0.1:1/v1: the teacher server cannot be reached"),
            "{err}"
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        assert_eq!(OpenAiTeacher::new(OpenAiConfig::new(&url, "m")).check_reachable(), Ok(()));
        let bad = OpenAiTeacher::new(OpenAiConfig::new("localhost:8000", "m"));
        assert!(bad.check_reachable().unwrap_err().contains("must start with http://"));
    }

    #[test]
    fn endpoint_accepts_base_urls_with_or_without_v1() {
        let url = |base: &str| OpenAiConfig::new(base, "m").endpoint();
        assert_eq!(url("http://h:8000"), "http://h:8000/v1/chat/completions");
        assert_eq!(url("http://h:8000/v1/"), "http://h:8000/v1/chat/completions");
        assert_eq!(url("http://h/v1/chat/completions"), "http://h/v1/chat/completions");
    }

    #[test]
    fn context_overflow_is_recognised_from_the_error_text() {
        let vllm = r#"{"object":"error","message":"This model's maximum context length is 32768 tokens. However, you requested 40000 tokens","type":"BadRequestError","code":400}"#;
        assert!(is_context_overflow(400, vllm));
        assert!(!is_context_overflow(400, r#"{"message":"model not found"}"#));
        assert!(!is_context_overflow(500, vllm));
    }
}

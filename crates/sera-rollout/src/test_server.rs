//! A tiny OpenAI-compatible server on `127.0.0.1` for tests and benchmarks (feature
//! `test-support`): it answers `POST .../chat/completions` from a script, and can also fail
//! with any status, answer slowly, hang past the client's timeout, or drop the connection.
//! Plain `std::net`, one thread per connection, `Connection: close`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Answers with this status and JSON body.
    Json(u16, Value),
    /// Answers with this status, extra headers and raw body text.
    Raw { status: u16, headers: Vec<(String, String)>, body: String },
    /// Waits, then does the inner thing.
    Delay(Duration, Box<Scripted>),
    /// Closes the connection without answering.
    Drop,
}

impl Scripted {
    /// A successful completion whose message is `message`.
    pub fn message(message: Value) -> Scripted {
        Scripted::Json(
            200,
            json!({
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
            }),
        )
    }

    /// A completion with one native tool call.
    pub fn tool_call(name: &str, arguments: Value) -> Scripted {
        Scripted::message(json!({
            "role": "assistant",
            "content": null,
            "reasoning_content": format!("I should call {name}."),
            "tool_calls": [{"id": "srv-1", "type": "function",
                            "function": {"name": name, "arguments": arguments.to_string()}}],
        }))
    }

    /// A completion whose text is `content` (Hermes blocks, refusals, chatter).
    pub fn text(content: &str) -> Scripted {
        Scripted::message(json!({"role": "assistant", "content": content}))
    }

    /// An error status with an OpenAI-style error body.
    pub fn error(status: u16, message: &str) -> Scripted {
        Scripted::Json(status, json!({"object": "error", "message": message, "code": status}))
    }
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

type Script = dyn Fn(&Value, usize) -> Scripted + Send + Sync;

/// A running server; stops when dropped.
pub struct TestServer {
    pub port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer").field("port", &self.port).finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server whose answer to each request is `script(request body, request index)`.
    pub fn start(
        script: impl Fn(&Value, usize) -> Scripted + Send + Sync + 'static,
    ) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: Arc<Script> = Arc::new(script);
        let counter = Arc::new(AtomicUsize::new(0));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (script, seen, counter) =
                    (Arc::clone(&script), Arc::clone(&seen2), Arc::clone(&counter));
                std::thread::spawn(move || {
                    let _ = serve(stream, &*script, &seen, &counter);
                });
            }
        });
        Ok(TestServer { port, seen, stop })
    }

    /// Starts a server that plays `answers` in order, one per request, then answers 500.
    pub fn scripted(answers: Vec<Scripted>) -> std::io::Result<TestServer> {
        TestServer::start(move |_, index| {
            answers.get(index).cloned().unwrap_or_else(|| Scripted::error(500, "script exhausted"))
        })
    }

    /// A server playing a whole SVG run with a cooperative teacher: every rollout makes `edit`
    /// (the arguments of one `str_replace_editor` call) on its first turn and then submits, the
    /// judge says yes, and the issue writer answers `issue`. Enough for tests of the loop's
    /// plumbing; the harder paths (a judge without its tag, an empty first attempt) need their
    /// own scripts.
    pub fn svg_teacher(edit: Value, issue: &str) -> std::io::Result<TestServer> {
        let issue = issue.to_string();
        TestServer::start(move |body, _| {
            if body.get("tools").is_none() {
                return if request_text(body).contains("<initial_prompt>") {
                    Scripted::text("<output>yes</output>")
                } else {
                    Scripted::text(&format!("<output>{issue}</output>"))
                };
            }
            let turn = body["messages"]
                .as_array()
                .map_or(0, |m| m.iter().filter(|m| m["role"] == "assistant").count());
            if turn == 0 {
                Scripted::tool_call("str_replace_editor", edit.clone())
            } else {
                Scripted::tool_call("submit", serde_json::json!({}))
            }
        })
    }

    /// The base URL to give a client, ending in `/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|seen| seen.clone()).unwrap_or_default()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(
    stream: TcpStream,
    script: &Script,
    seen: &Mutex<Vec<Seen>>,
    counter: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_string());
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
            headers.push((name, value));
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let index = counter.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut seen) = seen.lock() {
        seen.push(Seen { path, headers, body: body.clone() });
    }
    let mut action = script(&body, index);
    let mut stream = stream;
    loop {
        match action {
            Scripted::Delay(wait, next) => {
                std::thread::sleep(wait);
                action = *next;
            }
            Scripted::Drop => return Ok(()),
            Scripted::Json(status, value) => {
                return respond(&mut stream, status, &[], &value.to_string());
            }
            Scripted::Raw { status, headers, body } => {
                return respond(&mut stream, status, &headers, &body);
            }
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(String, String)],
    body: &str,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

/// The text of every message of a chat-completions request body, joined by newlines: what a
/// script looks at to tell a judge call from an issue-writer call.
pub fn request_text(body: &Value) -> String {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["content"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

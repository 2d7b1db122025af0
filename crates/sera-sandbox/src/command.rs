//! What to run ([`CommandSpec`]) and what came of it ([`Output`]): plain data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::DEFAULT_TIMEOUT;

/// One command to run in a scratch. Build it with [`CommandSpec::new`] or
/// [`CommandSpec::shell`] and the chained setters, or fill the public fields directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program, looked up on the sandbox's `PATH` unless it contains a `/`.
    pub program: String,
    pub args: Vec<String>,
    /// Working directory relative to the repository copy ([`Scratch::path`](crate::Scratch::path));
    /// the copy itself when `None`.
    pub cwd: Option<PathBuf>,
    /// Variables added to the scrubbed environment for this command only.
    pub env: BTreeMap<String, String>,
    /// Wall-clock limit; the whole process group is killed when it passes.
    pub timeout: Duration,
    /// Bytes written to the command's standard input (closed after them); `/dev/null` if `None`.
    pub stdin: Option<String>,
    /// Send stderr into the same pipe as stdout, so that their lines keep their relative order
    /// (`Output::stderr` is then empty).
    pub merge_output: bool,
}

impl CommandSpec {
    /// `program` with no arguments and the default timeout.
    pub fn new(program: impl Into<String>) -> CommandSpec {
        CommandSpec {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: BTreeMap::new(),
            timeout: DEFAULT_TIMEOUT,
            stdin: None,
            merge_output: false,
        }
    }

    /// A command from an argument vector (`argv[0]` is the program); `None` when it is empty.
    pub fn from_argv(argv: &[String]) -> Option<CommandSpec> {
        let (program, args) = argv.split_first()?;
        Some(CommandSpec::new(program.clone()).args(args.iter().cloned()))
    }

    /// `bash -c script`: what an agent's `bash` tool runs.
    pub fn shell(script: impl Into<String>) -> CommandSpec {
        CommandSpec::new("bash").arg("-c").arg(script)
    }

    pub fn arg(mut self, arg: impl Into<String>) -> CommandSpec {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> CommandSpec
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> CommandSpec {
        self.env.insert(name.into(), value.into());
        self
    }

    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> CommandSpec {
        self.cwd = Some(cwd.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> CommandSpec {
        self.timeout = timeout;
        self
    }

    pub fn stdin(mut self, input: impl Into<String>) -> CommandSpec {
        self.stdin = Some(input.into());
        self
    }

    pub fn merge_output(mut self, merge: bool) -> CommandSpec {
        self.merge_output = merge;
        self
    }

    /// The command as one line, for logs and error messages (arguments are not re-quoted).
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What a command did. A command that fails, crashes or times out is still an `Output`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The exit status; `None` when a signal ended it (see `signal`).
    pub exit_code: Option<i32>,
    /// The signal that ended it, if one did (`9` after a timeout).
    pub signal: Option<i32>,
    /// Standard output, lossily decoded as UTF-8, capped (see `truncated`).
    pub stdout: String,
    /// Standard error; empty when the command merged it into `stdout`.
    pub stderr: String,
    /// The timeout passed and the process group was killed.
    pub timed_out: bool,
    /// Some output was dropped; the text holds a `[sera-sandbox: ... bytes of output dropped]`
    /// line where it was.
    pub truncated: bool,
    pub duration: Duration,
}

impl Output {
    /// Exit code 0, no signal, no timeout.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// stdout followed by stderr, as an agent's terminal would show them.
    pub fn combined(&self) -> String {
        if self.stderr.is_empty() {
            return self.stdout.clone();
        }
        let mut text = self.stdout.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&self.stderr);
        text
    }

    /// A short description of how the command ended: `exit code 1`, `killed by signal 9`,
    /// `timed out after 20.0 s`.
    pub fn status_line(&self) -> String {
        if self.timed_out {
            format!("timed out after {:.1} s", self.duration.as_secs_f64())
        } else if let Some(code) = self.exit_code {
            format!("exit code {code}")
        } else if let Some(signal) = self.signal {
            format!("killed by signal {signal}")
        } else {
            "ended without a status".into()
        }
    }
}

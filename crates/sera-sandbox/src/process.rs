//! Starting, limiting, timing out and killing processes, and capturing their output. This is
//! the only module of sera-rs that calls `std::process::Command::new` or libc.
//!
//! Each command becomes the leader of a new session (so of a new process group) before it
//! execs, with its resource limits set in the child between fork and exec. Where the machine
//! has a writable cgroup-v1 `pids` hierarchy (typically: running as root), the child also joins
//! a fresh cgroup whose `pids.max` bounds the whole tree; root ignores `RLIMIT_NPROC`, so this is
//! what stops a fork bomb there, and its member list finds processes that left the group.
//!
//! The exit of the leader is observed without reaping it (`waitid(WNOWAIT)`), so its process
//! group id cannot be reused while the group is killed; only then is it reaped.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Limits, Output, SandboxError};

/// Everything needed to start one process.
pub(crate) struct Launch<'a> {
    /// Program and arguments; never empty.
    pub argv: &'a [String],
    pub cwd: &'a Path,
    /// The complete environment: nothing of the caller's is inherited.
    pub env: &'a BTreeMap<String, String>,
    pub stdin: Option<&'a str>,
    pub timeout: Duration,
    pub limits: &'a Limits,
    /// Bytes kept per stream.
    pub output_cap: usize,
    pub merge_output: bool,
}

/// How long to keep reading after the process group is gone, for pipes held open by a process
/// that escaped it (possible only without bubblewrap and without a pids cgroup).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// Runs `launch` to completion or timeout. Errors only when the process cannot be started.
pub(crate) fn run(launch: &Launch<'_>) -> Result<Output, SandboxError> {
    let (program, args) = launch.argv.split_first().ok_or_else(|| SandboxError::Spawn {
        program: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command"),
    })?;
    let spawn_error = |source| SandboxError::Spawn { program: program.clone(), source };

    #[allow(clippy::disallowed_methods)] // The one place sera-rs starts a process.
    let mut command = Command::new(program);
    command.args(args).current_dir(launch.cwd).env_clear().envs(launch.env);
    command.stdin(if launch.stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let merged_reader = if launch.merge_output {
        let (reader, writer) = pipe().map_err(spawn_error)?;
        let writer_copy = writer.try_clone().map_err(spawn_error)?;
        command.stdout(Stdio::from(writer_copy)).stderr(Stdio::from(writer));
        Some(File::from(reader))
    } else {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
        None
    };

    let cgroup = PidsCgroup::create(launch.limits.processes);
    let cgroup_procs = cgroup.as_ref().and_then(PidsCgroup::procs_file);
    let setup = ChildSetup {
        memory: launch.limits.memory_bytes,
        processes: launch.limits.processes,
        file_size: launch.limits.file_size_bytes,
        cgroup_procs: cgroup_procs.as_ref().map_or(-1, |fd| fd.as_raw_fd()),
    };
    // SAFETY: `ChildSetup::apply` only makes async-signal-safe system calls (setsid, getrlimit,
    // setrlimit, write) on values prepared before the fork, and allocates nothing.
    unsafe {
        command.pre_exec(move || setup.apply());
    }

    let start = Instant::now();
    let mut child = command.spawn().map_err(spawn_error)?;
    // The parent's copies of the pipe ends the child writes to live in `command`; closing them
    // is what lets the readers see end-of-file once every writer in the sandbox is gone.
    drop(command);
    drop(cgroup_procs);

    let stdin_thread = match (launch.stdin, child.stdin.take()) {
        (Some(input), Some(mut pipe)) => {
            let input = input.as_bytes().to_vec();
            // A child that never reads its input must not block us: the writer is detached
            // and ends with EPIPE when the child is gone.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            }))
        }
        _ => None,
    };
    let (sender, receiver) = mpsc::channel::<(usize, Captured)>();
    let mut streams = 0;
    let mut start_reader = |index: usize, stream: Box<dyn Read + Send>| {
        let sender = sender.clone();
        let cap = launch.output_cap;
        streams += 1;
        std::thread::spawn(move || {
            let _ = sender.send((index, Captured::read_all(stream, cap)));
        });
    };
    match merged_reader {
        Some(reader) => start_reader(0, Box::new(reader)),
        None => {
            if let Some(out) = child.stdout.take() {
                start_reader(0, Box::new(out));
            }
            if let Some(err) = child.stderr.take() {
                start_reader(1, Box::new(err));
            }
        }
    }
    drop(sender);

    let pid = child.id() as libc::pid_t;
    let deadline = start + launch.timeout;
    let mut timed_out = false;
    let mut poll = Duration::from_millis(1);
    loop {
        if has_exited(pid) {
            break;
        }
        let now = Instant::now();
        if now >= deadline {
            timed_out = true;
            break;
        }
        std::thread::sleep(poll.min(deadline - now));
        poll = (poll * 2).min(Duration::from_millis(25));
    }
    // Whether it finished or timed out, nothing it started may outlive it.
    kill_group(pid);
    if let Some(cgroup) = &cgroup {
        cgroup.kill_all();
    }
    let status = child.wait().map_err(spawn_error)?;
    let duration = start.elapsed();

    let mut outputs: [Option<Captured>; 2] = [None, None];
    let drain_deadline = Instant::now() + DRAIN_GRACE;
    for _ in 0..streams {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((index, captured)) => outputs[index] = Some(captured),
            Err(_) => break,
        }
    }
    if let Some(thread) = stdin_thread {
        if thread.is_finished() {
            let _ = thread.join();
        }
    }
    let [stdout, stderr] = outputs;
    let expected_stderr = launch.merge_output.then_some(String::new());
    let (stdout, out_truncated) = finish_stream(stdout);
    let (stderr, err_truncated) = match expected_stderr {
        Some(empty) => (empty, false),
        None => finish_stream(stderr),
    };
    Ok(Output {
        exit_code: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        timed_out,
        truncated: out_truncated || err_truncated,
        duration,
    })
}

/// Text of a captured stream, or a note when its pipe was still held open by an escaped
/// process after the grace period.
fn finish_stream(captured: Option<Captured>) -> (String, bool) {
    match captured {
        Some(captured) => captured.into_text(),
        None => (
            "\n[sera-sandbox: output still open after the command ended; stopped reading]\n".into(),
            true,
        ),
    }
}

/// Whether a process limit can be enforced here: `RLIMIT_NPROC` holds for every user but
/// root, and for root only a pids cgroup does.
pub(crate) fn process_limit_enforceable() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    !root || PidsCgroup::create(Some(1)).is_some()
}

/// The limits, prepared before the fork so that the child allocates nothing.
#[derive(Clone, Copy)]
struct ChildSetup {
    memory: Option<u64>,
    processes: Option<u64>,
    file_size: Option<u64>,
    /// An open `cgroup.procs` to write `0` (this process) into, or -1.
    cgroup_procs: libc::c_int,
}

impl ChildSetup {
    fn apply(&self) -> std::io::Result<()> {
        // SAFETY: plain system calls on integers and stack values.
        unsafe {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if self.cgroup_procs >= 0 {
                // Best effort: without it the rlimits and the timeout still hold.
                let _ = libc::write(self.cgroup_procs, b"0".as_ptr().cast(), 1);
            }
            set_limit(libc::RLIMIT_CORE, Some(0))?;
            set_limit(libc::RLIMIT_AS, self.memory)?;
            set_limit(libc::RLIMIT_NPROC, self.processes)?;
            set_limit(libc::RLIMIT_FSIZE, self.file_size)?;
        }
        Ok(())
    }
}

/// Lowers both the soft and the hard limit to `value` (never raises the hard limit, which only
/// a privileged process could).
///
/// # Safety
/// Async-signal-safe; callable between fork and exec.
#[cfg(target_os = "linux")]
unsafe fn set_limit(
    resource: libc::__rlimit_resource_t,
    value: Option<u64>,
) -> std::io::Result<()> {
    let Some(value) = value else { return Ok(()) };
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `current` is a valid rlimit to write into.
    if unsafe { libc::getrlimit(resource, &mut current) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    let value = value.min(current.rlim_max);
    let limit = libc::rlimit { rlim_cur: value, rlim_max: value };
    // SAFETY: `limit` is a valid rlimit.
    if unsafe { libc::setrlimit(resource, &limit) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `pid` (our child) has exited, without reaping it.
fn has_exited(pid: libc::pid_t) -> bool {
    // SAFETY: waitid writes into a zeroed siginfo_t we own.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        if libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) == -1 {
            // ECHILD: already reaped or never ours; either way there is nothing to wait for.
            return true;
        }
        info.si_pid() != 0
    }
}

/// SIGKILL to every process of the group led by `pgid` (the leader is unreaped, so the id is
/// still ours).
fn kill_group(pgid: libc::pid_t) {
    // SAFETY: a signal to a process group we created; ESRCH (already empty) is fine.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// A pipe whose ends close on exec.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The head and tail of one output stream, and how much passed through.
struct Captured {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl Captured {
    /// Reads `stream` to its end, keeping at most `cap` bytes: the first half and the last
    /// half. Reading never stops early, so a chatty child never blocks on a full pipe.
    fn read_all(mut stream: Box<dyn Read + Send>, cap: usize) -> Captured {
        let head_cap = cap / 2;
        let mut captured = Captured {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_cap,
            tail_cap: cap - head_cap,
            total: 0,
        };
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            match stream.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => captured.push(&buffer[..n]),
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        captured
    }

    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.head_cap - self.head.len();
        let (to_head, rest) = chunk.split_at(room.min(chunk.len()));
        self.head.extend_from_slice(to_head);
        if rest.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&rest[rest.len() - self.tail_cap..]);
        } else {
            let overflow = (self.tail.len() + rest.len()).saturating_sub(self.tail_cap);
            self.tail.drain(..overflow);
            self.tail.extend(rest);
        }
    }

    /// The text, with a marker line where bytes were dropped, and whether any were.
    fn into_text(self) -> (String, bool) {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let dropped = self.total - kept;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        let tail: Vec<u8> = self.tail.into_iter().collect();
        if dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[sera-sandbox: {dropped} bytes of output dropped]\n"));
        }
        text.push_str(&String::from_utf8_lossy(&tail));
        (text, dropped > 0)
    }
}

/// A per-command cgroup in the v1 `pids` hierarchy.
struct PidsCgroup {
    dir: PathBuf,
}

static CGROUP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl PidsCgroup {
    /// A child of our own pids cgroup with `pids.max` set, or `None` where that is not possible
    /// (no v1 pids hierarchy, not permitted, no limit asked for).
    fn create(limit: Option<u64>) -> Option<PidsCgroup> {
        let limit = limit?;
        let hierarchy = Path::new("/sys/fs/cgroup/pids");
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let own = own.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == "pids")
                .then(|| path.trim_start_matches('/').to_string())
        })?;
        let serial = CGROUP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = hierarchy.join(own).join(format!("sera-{}-{serial}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let cgroup = PidsCgroup { dir };
        std::fs::write(cgroup.dir.join("pids.max"), limit.to_string()).ok()?;
        Some(cgroup)
    }

    fn procs_file(&self) -> Option<OwnedFd> {
        let file =
            std::fs::OpenOptions::new().write(true).open(self.dir.join("cgroup.procs")).ok()?;
        Some(OwnedFd::from(file))
    }

    /// Kills every member until none is left (a fork bomb keeps forking while it is killed,
    /// but `pids.max` bounds how many there can be).
    fn kill_all(&self) {
        for _ in 0..200 {
            let Ok(members) = std::fs::read_to_string(self.dir.join("cgroup.procs")) else {
                return;
            };
            let pids: Vec<libc::pid_t> =
                members.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: a signal to a process in the cgroup this command was put in.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        self.kill_all();
        // Killed processes leave the cgroup asynchronously; rmdir fails (EBUSY) until they do.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(chunks: &[&[u8]], cap: usize) -> (String, bool) {
        let mut captured = Captured {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_cap: cap / 2,
            tail_cap: cap - cap / 2,
            total: 0,
        };
        for chunk in chunks {
            captured.push(chunk);
        }
        captured.into_text()
    }

    #[test]
    fn capture_keeps_everything_under_the_cap() {
        assert_eq!(capture(&[b"ab", b"cd"], 8), ("abcd".to_string(), false));
        assert_eq!(capture(&[b"abcd", b"efgh"], 8), ("abcdefgh".to_string(), false));
    }

    #[test]
    fn capture_keeps_head_and_tail_with_a_marker() {
        let (text, truncated) = capture(&[b"0123", b"456789"], 4);
        assert!(truncated);
        assert_eq!(text, "01\n[sera-sandbox: 6 bytes of output dropped]\n89");
        let (text, _) = capture(&[b"0", b"1", b"2", b"3", b"4", b"5"], 4);
        assert_eq!(text, "01\n[sera-sandbox: 2 bytes of output dropped]\n45");
    }
}

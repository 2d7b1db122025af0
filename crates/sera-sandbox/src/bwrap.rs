//! The bubblewrap backend: the argument vector that wraps a command, and a probe that checks
//! bubblewrap works here before any candidate depends on it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::process::{self, Launch};
use crate::{Limits, SandboxError};

/// The bubblewrap program, looked up on the caller's `PATH`.
const BWRAP: &str = "bwrap";

/// How one command is wrapped, beyond the program and its arguments.
pub(crate) struct Wrap<'a> {
    /// Folders bound read-write: the scratch, and any the sandbox was told may be written.
    pub writable: &'a [&'a Path],
    /// Folders bound read-only over the private `/tmp` (elsewhere the host is visible anyway).
    pub readable: &'a [&'a Path],
    /// Keep the host's network namespace (only the environment stage asks for it).
    pub network: bool,
    pub cwd: &'a Path,
}

/// `bwrap [options] -- program args...`: the host read-only, a fresh `/dev`, `/proc` and
/// `/tmp`, `/run` masked (its sockets would otherwise be reachable through a read-only mount),
/// the `writable` folders bound read-write, every namespace unshared (so no network, unless
/// `network` keeps it), no capabilities, a new session, and death with the parent.
pub(crate) fn wrap(how: &Wrap<'_>, program: &str, args: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = [
        BWRAP,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Bound after the tmpfs mounts so that a scratch under /tmp stays visible.
    for dir in how.readable {
        let dir = dir.display().to_string();
        argv.extend(["--ro-bind".to_string(), dir.clone(), dir]);
    }
    for dir in how.writable {
        let dir = dir.display().to_string();
        argv.extend(["--bind".to_string(), dir.clone(), dir]);
    }
    argv.push("--unshare-all".to_string());
    if how.network {
        argv.push("--share-net".to_string());
    }
    argv.extend(
        ["--cap-drop", "ALL", "--die-with-parent", "--new-session"].iter().map(|s| s.to_string()),
    );
    argv.extend(["--chdir".to_string(), how.cwd.display().to_string(), "--".to_string()]);
    argv.push(program.to_string());
    argv.extend(args.iter().cloned());
    argv
}

/// Runs `true` under the same options as every command, finding `bwrap` on `path_var`.
pub(crate) fn probe(path_var: &str) -> Result<(), SandboxError> {
    let dir = std::env::temp_dir();
    let argv =
        wrap(&Wrap { writable: &[&dir], readable: &[], network: false, cwd: &dir }, "true", &[]);
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), path_var.to_string());
    let launch = Launch {
        argv: &argv,
        cwd: &dir,
        env: &env,
        stdin: None,
        timeout: Duration::from_secs(30),
        limits: &Limits { memory_bytes: None, processes: None, file_size_bytes: None },
        output_cap: 64 << 10,
        merge_output: true,
    };
    match process::run(&launch) {
        Ok(out) if out.success() => Ok(()),
        Ok(out) => Err(SandboxError::BwrapUnusable {
            detail: format!(
                "`bwrap ... true` ended with {}: {}",
                out.status_line(),
                out.stdout.trim()
            ),
        }),
        Err(SandboxError::Spawn { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            Err(SandboxError::BwrapMissing { detail: source.to_string() })
        }
        Err(err) => Err(SandboxError::BwrapUnusable { detail: err.to_string() }),
    }
}

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
    /// Host folders bound read-write at another path inside the box (`host`, `inside`), each
    /// `inside` a new top-level folder. With any, the host's root is bound entry by entry
    /// instead of whole, so that the box's own root can hold those folders.
    pub mounts: &'a [(&'a Path, &'a Path)],
    pub cwd: &'a Path,
}

/// Host root entries that every box replaces with its own.
const OWN_ENTRIES: [&str; 4] = ["dev", "proc", "tmp", "run"];

/// `bwrap [options] -- program args...`: the host read-only, a fresh `/dev`, `/proc` and
/// `/tmp`, `/run` masked (its sockets would otherwise be reachable through a read-only mount),
/// the `writable` folders bound read-write, every namespace unshared (so no network, unless
/// `network` keeps it), no capabilities, a new session, and death with the parent.
pub(crate) fn wrap(how: &Wrap<'_>, program: &str, args: &[String]) -> Vec<String> {
    let mut argv = vec![BWRAP.to_string()];
    if how.mounts.is_empty() {
        argv.extend(["--ro-bind", "/", "/"].map(String::from));
    } else {
        // The same read-only view of the host, one top-level entry at a time, leaving out the
        // entries the mounts take (a host `/testbed` is hidden, not merged).
        let taken: Vec<&std::ffi::OsStr> =
            how.mounts.iter().filter_map(|(_, inside)| top_level(inside)).collect();
        argv.extend(host_root_entries(&taken));
    }
    argv.extend(
        ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/run"]
            .map(String::from),
    );
    // Bound after the tmpfs mounts so that a scratch under /tmp stays visible.
    for dir in how.readable {
        let dir = dir.display().to_string();
        argv.extend(["--ro-bind".to_string(), dir.clone(), dir]);
    }
    for dir in how.writable {
        let dir = dir.display().to_string();
        argv.extend(["--bind".to_string(), dir.clone(), dir]);
    }
    for (host, inside) in how.mounts {
        argv.extend([
            "--bind".to_string(),
            host.display().to_string(),
            inside.display().to_string(),
        ]);
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

/// The first component of an absolute path (`testbed` of `/testbed/src`).
pub(crate) fn top_level(path: &Path) -> Option<&std::ffi::OsStr> {
    match path.components().nth(1)? {
        std::path::Component::Normal(name) => Some(name),
        _ => None,
    }
}

/// `--ro-bind` (or `--symlink` for links such as a merged-usr `/bin`) for each entry of the
/// host's `/`, except those every box replaces and those in `skip`.
fn host_root_entries(skip: &[&std::ffi::OsStr]) -> Vec<String> {
    let mut argv = Vec::new();
    for (name, link) in host_root() {
        if OWN_ENTRIES.iter().any(|own| name == own) || skip.contains(&name.as_os_str()) {
            continue;
        }
        let path = format!("/{}", name.to_string_lossy());
        match link {
            Some(target) => {
                argv.extend(["--symlink".to_string(), target.display().to_string(), path]);
            }
            None => argv.extend(["--ro-bind".to_string(), path.clone(), path]),
        }
    }
    argv
}

/// The entries of the host's `/` in name order, each with its link target if it is a symbolic
/// link. Read once per process: an agent's every command is wrapped, and `/` does not change
/// under a running sera.
fn host_root() -> &'static [(std::ffi::OsString, Option<std::path::PathBuf>)] {
    static ROOT: std::sync::OnceLock<Vec<(std::ffi::OsString, Option<std::path::PathBuf>)>> =
        std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let mut entries: Vec<_> = std::fs::read_dir("/")
            .map(|dir| {
                dir.flatten()
                    .map(|entry| (entry.file_name(), std::fs::read_link(entry.path()).ok()))
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        entries
    })
}

/// Runs `true` under the same options as every command, finding `bwrap` on `path_var`.
pub(crate) fn probe(path_var: &str) -> Result<(), SandboxError> {
    let dir = std::env::temp_dir();
    let argv = wrap(
        &Wrap { writable: &[&dir], readable: &[], network: false, mounts: &[], cwd: &dir },
        "true",
        &[],
    );
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

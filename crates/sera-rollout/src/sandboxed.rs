//! The production [`Shell`]: the agent's `bash` tool run through `sera-sandbox`.
//!
//! The repository is really where the agent is told it is. Under bubblewrap the scratch copy
//! is mounted at the fixed directory (`/testbed`) and the rest of the scratch (HOME, TMPDIR,
//! CARGO_TARGET_DIR) at `/scratch`, so commands, files that mention `/testbed` and the output
//! all use those paths and trajectories do not depend on where the scratch was created. Without
//! isolation there is no mount namespace: the adapter then rewrites the fixed directory to the
//! real one in commands and back in output, as the one fallback.
//!
//! The shell persists like SWE-agent's session: `cd`, variables (exported or not) and functions
//! carry over from one call to the next. Each call is still its own `bash` (so a timeout kills
//! exactly that command's process group): bash reads a small init file first ([`BASH_ENV`]),
//! which restores the state the previous call left and saves it again when the call exits.
//! What does not carry over: background processes (killed with the command that started them),
//! shell options and traps, and the state of a command that was killed for its timeout.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sera_sandbox::{CommandSpec, Scratch};

use crate::env::{Shell, ShellOutput};

/// Where the rest of the scratch (HOME, TMPDIR, CARGO_TARGET_DIR) appears to the agent.
const SCRATCH_ALIAS: &str = "/scratch";

/// The folder of the scratch, outside the repository copy, that holds the shell's state.
const STATE_DIR: &str = "shell";

/// The init file bash reads before each command: restore the last call's state, save it on
/// exit. `$1`-free and quiet, so the command's own output and line numbers are untouched.
/// Variables bash itself manages (readonly ones, counters, `BASH_*`, `PWD`) are not saved.
const INIT: &str = r#"unset BASH_ENV
__sera_state="$SERA_SHELL_STATE"
unset SERA_SHELL_STATE
if [ -f "$__sera_state" ]; then . "$__sera_state" >/dev/null 2>&1; fi
__sera_save() {
  {
    declare -p | grep -v -E '^declare -[a-zA-Z]*r[a-zA-Z]* ' \
      | grep -v -E '^declare -[-a-zA-Z]+ (BASH[A-Z_]*|FUNCNAME|GROUPS|HIST[A-Z]*|LINENO|RANDOM|SRANDOM|SECONDS|EPOCHREALTIME|EPOCHSECONDS|PIPESTATUS|SHLVL|PWD|_|__sera_[a-z_]*|OPTIND|OPTARG|COMP_[A-Z]*|DIRSTACK)(=|$)'
    declare -f | sed '/^__sera_save ()/,/^}/d'
    printf 'cd -- %q 2>/dev/null || true\n' "$PWD"
  } > "$__sera_state.next" 2>/dev/null && mv -f "$__sera_state.next" "$__sera_state"
}
trap __sera_save EXIT
"#;

/// Runs the agent's commands in a sandbox scratch.
#[derive(Debug)]
pub struct SandboxShell {
    scratch: Scratch,
    workdir: String,
    /// The init file and the state file, as commands see them.
    init: PathBuf,
    state: PathBuf,
    /// The real paths to rewrite, when the scratch could not be mounted at `workdir`.
    rewrite: Option<(String, String)>,
}

impl SandboxShell {
    /// A shell over `scratch`, whose repository copy the agent knows as `workdir`: mounted there
    /// under bubblewrap, rewritten without isolation (or for a `workdir` under a system folder).
    pub fn new(mut scratch: Scratch, workdir: &str) -> SandboxShell {
        let workdir = workdir.trim_end_matches('/').to_string();
        let mounted = scratch.mount_at(Path::new(&workdir), Path::new(SCRATCH_ALIAS)).is_ok();
        let rewrite = (!mounted)
            .then(|| (scratch.path().display().to_string(), scratch.root().display().to_string()));
        let visible = scratch.visible_root().join(STATE_DIR);
        let real = scratch.root().join(STATE_DIR);
        // A shell that cannot keep state still runs commands: they start fresh each time.
        let _ = std::fs::create_dir_all(&real)
            .and_then(|()| std::fs::write(real.join("init.sh"), INIT));
        SandboxShell {
            scratch,
            workdir,
            init: visible.join("init.sh"),
            state: visible.join("state.sh"),
            rewrite,
        }
    }

    pub fn scratch(&self) -> &Scratch {
        &self.scratch
    }

    /// Whether the repository is really at the working directory (not rewritten).
    pub fn is_mounted(&self) -> bool {
        self.rewrite.is_none()
    }

    fn to_real(&self, command: &str) -> String {
        match &self.rewrite {
            None => command.to_string(),
            Some((repo, root)) => {
                let alias = format!("{SCRATCH_ALIAS}/");
                command.replace(&self.workdir, repo).replace(&alias, &format!("{root}/"))
            }
        }
    }

    fn to_visible(&self, output: &str) -> String {
        match &self.rewrite {
            None => output.to_string(),
            Some((repo, root)) => output.replace(repo, &self.workdir).replace(root, SCRATCH_ALIAS),
        }
    }
}

impl Shell for SandboxShell {
    fn run(&mut self, command: &str, timeout: Duration) -> Result<ShellOutput, String> {
        let spec = CommandSpec::shell(self.to_real(command))
            .env("BASH_ENV", self.init.display().to_string())
            .env("SERA_SHELL_STATE", self.state.display().to_string())
            .timeout(timeout)
            .merge_output(true);
        let output = self.scratch.run(&spec).map_err(|err| err.to_string())?;
        Ok(ShellOutput {
            output: self.to_visible(&output.combined()),
            exit_code: output.exit_code,
            timed_out: output.timed_out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sera_sandbox::{Isolation, Sandbox, SandboxConfig};

    fn shell(isolation: Isolation) -> (tempfile::TempDir, SandboxShell) {
        let repo = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(repo.path().join("pkg")).expect("mkdir");
        std::fs::write(repo.path().join("pkg/data.txt"), "see /testbed/pkg/data.txt\n")
            .expect("write");
        let sandbox = Sandbox::new(SandboxConfig { isolation, ..SandboxConfig::default() })
            .expect("bubblewrap works on the test machine");
        let scratch = sandbox.scratch(repo.path()).expect("scratch");
        (repo, SandboxShell::new(scratch, "/testbed"))
    }

    fn run(shell: &mut SandboxShell, command: &str) -> String {
        shell.run(command, Duration::from_secs(30)).expect("runs").output
    }

    #[test]
    fn cd_variables_and_functions_carry_over_between_calls() {
        for isolation in [Isolation::Bwrap, Isolation::None] {
            let (_repo, mut shell) = shell(isolation);
            assert_eq!(shell.is_mounted(), isolation == Isolation::Bwrap);
            assert_eq!(run(&mut shell, "pwd"), "/testbed\n");
            assert_eq!(
                run(
                    &mut shell,
                    "cd pkg && export GREETING='hi there' && COUNT=2; greet() { echo \"$GREETING\"; }"
                ),
                ""
            );
            assert_eq!(
                run(&mut shell, "pwd; echo \"$COUNT\"; greet; bash -c 'echo child:$GREETING'"),
                "/testbed/pkg\n2\nhi there\nchild:hi there\n",
                "{isolation:?}"
            );
            // `exit` and a failing command keep what was set before them.
            let out =
                shell.run("cd /testbed; COUNT=3; exit 4", Duration::from_secs(30)).expect("runs");
            assert_eq!(out.exit_code, Some(4));
            assert_eq!(
                run(&mut shell, "pwd; echo $COUNT; cd /nonexistent"),
                "/testbed\n3\nbash: line 1: cd: /nonexistent: No such file or directory\n"
            );
            // A syntax error reports the agent's own line number, and changes nothing.
            assert_eq!(
                run(&mut shell, "cd pkg; if then"),
                "bash: -c: line 1: syntax error near unexpected token `then'\nbash: -c: line 1: `cd pkg; if then'\n"
            );
            assert_eq!(run(&mut shell, "pwd"), "/testbed\n");
        }
    }

    #[test]
    fn files_that_name_testbed_work_and_a_timeout_keeps_the_earlier_state() {
        let (_repo, mut shell) = shell(Isolation::Bwrap);
        assert_eq!(
            run(&mut shell, "cat $(cut -d' ' -f2 pkg/data.txt)"),
            "see /testbed/pkg/data.txt\n"
        );
        run(&mut shell, "cd pkg");
        let out = shell.run("cd /; sleep 20", Duration::from_secs(1)).expect("runs");
        assert!(out.timed_out);
        assert_eq!(run(&mut shell, "pwd"), "/testbed/pkg\n");
        // The state lives outside the repository: the agent's diff never sees it.
        assert!(!shell.scratch().path().join("shell").exists());
        assert!(shell.scratch().root().join("shell/state.sh").is_file());
    }
}

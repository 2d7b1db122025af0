//! The production [`Shell`]: the agent's `bash` tool run through `sera-sandbox`.
//!
//! The sandbox runs commands in the scratch copy at its real, random path, while the agent is
//! told the repository lives at a fixed directory (`/testbed`). So that trajectories do not
//! depend on where the scratch happened to be created, this adapter rewrites the fixed
//! directory to the real one in commands, and the real one back in output (and the scratch's
//! other directories to `/scratch`). Each command starts a fresh `bash` in the repository root:
//! `cd` and variables do not carry over between calls.

use std::time::Duration;

use sera_sandbox::{CommandSpec, Scratch};

use crate::env::{Shell, ShellOutput};

/// Where the rest of the scratch (HOME, TMPDIR, CARGO_TARGET_DIR) appears to the agent.
const SCRATCH_ALIAS: &str = "/scratch";

/// Runs the agent's commands in a sandbox scratch.
#[derive(Debug)]
pub struct SandboxShell {
    scratch: Scratch,
    workdir: String,
    repo: String,
    root: String,
}

impl SandboxShell {
    /// A shell over `scratch`, whose repository copy the agent knows as `workdir`.
    pub fn new(scratch: Scratch, workdir: &str) -> SandboxShell {
        let repo = scratch.path().display().to_string();
        let root = scratch.root().display().to_string();
        SandboxShell { scratch, workdir: workdir.trim_end_matches('/').to_string(), repo, root }
    }

    pub fn scratch(&self) -> &Scratch {
        &self.scratch
    }

    fn to_real(&self, command: &str) -> String {
        let alias = format!("{SCRATCH_ALIAS}/");
        command.replace(&self.workdir, &self.repo).replace(&alias, &format!("{}/", self.root))
    }

    fn to_visible(&self, output: &str) -> String {
        output.replace(&self.repo, &self.workdir).replace(&self.root, SCRATCH_ALIAS)
    }
}

impl Shell for SandboxShell {
    fn run(&mut self, command: &str, timeout: Duration) -> Result<ShellOutput, String> {
        let spec = CommandSpec::shell(self.to_real(command)).timeout(timeout).merge_output(true);
        let output = self.scratch.run(&spec).map_err(|err| err.to_string())?;
        Ok(ShellOutput {
            output: self.to_visible(&output.combined()),
            exit_code: output.exit_code,
            timed_out: output.timed_out,
        })
    }
}

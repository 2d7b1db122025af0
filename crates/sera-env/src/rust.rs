//! Rust: the toolchain a repository pins must be installed, and `cargo fetch` fills the
//! registry cache so that every later build runs `--offline`.

use std::path::{Path, PathBuf};

use sera_sandbox::CommandSpec;

use crate::{EnvConfig, EnvError, StepRunner};

/// What a Rust repository needs.
pub(crate) struct RustPlan {
    /// The toolchain file and the channel it names, unless `[env] vars` sets
    /// `RUSTUP_TOOLCHAIN`, which overrides it.
    toolchain: Option<(PathBuf, String)>,
}

impl RustPlan {
    pub(crate) fn detect(repo: &Path, config: &EnvConfig) -> Result<Option<RustPlan>, EnvError> {
        if !repo.join("Cargo.toml").is_file() {
            return Ok(None);
        }
        let toolchain = if config.vars.contains_key("RUSTUP_TOOLCHAIN") {
            None
        } else {
            ["rust-toolchain.toml", "rust-toolchain"]
                .iter()
                .map(|name| repo.join(name))
                .find(|path| path.is_file())
                .map(|file| channel(&file).map(|channel| (file, channel)))
                .transpose()?
        };
        Ok(Some(RustPlan { toolchain }))
    }

    pub(crate) fn run(&self, runner: &mut StepRunner<'_>) -> Result<(), EnvError> {
        if let Some((file, channel)) = &self.toolchain {
            let out = runner.probe(CommandSpec::new("rustup").args(["toolchain", "list"]))?;
            // Without rustup there is one toolchain, the one on PATH, and nothing to choose.
            if out.success() {
                let installed: Vec<&str> =
                    out.stdout.lines().filter_map(|line| line.split_whitespace().next()).collect();
                if !installed.iter().any(|name| satisfies(name, channel)) {
                    return Err(EnvError::Toolchain {
                        file: file.clone(),
                        channel: channel.clone(),
                        installed: installed.join(", "),
                    });
                }
            }
        }
        let mut fetch = CommandSpec::new("cargo").arg("fetch");
        if runner.config.offline {
            fetch = fetch.arg("--offline");
        }
        runner.step(
            "cargo fetch",
            fetch,
            "check the network and the registry settings in `.cargo/config.toml`, or set \
             `[env] offline = true` when every dependency is already in this machine's cargo \
             cache",
        )?;
        Ok(())
    }
}

/// The channel a toolchain file names: `[toolchain] channel = "..."`, or (the old plain form)
/// the file's first line.
fn channel(file: &Path) -> Result<String, EnvError> {
    let text = std::fs::read_to_string(file).map_err(EnvError::io(file))?;
    let bad = |message: String| EnvError::Manifest { file: file.to_path_buf(), message };
    if let Ok(table) = text.parse::<toml::Table>() {
        let channel = table
            .get("toolchain")
            .and_then(|t| t.get("channel"))
            .and_then(|c| c.as_str())
            .ok_or_else(|| bad("has no `[toolchain] channel`".into()))?;
        return Ok(channel.to_string());
    }
    let line = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    line.map(str::to_string).ok_or_else(|| bad("names no toolchain".into()))
}

/// Whether an installed toolchain (`stable-x86_64-unknown-linux-gnu`, `1.80.0-x86_64-...`) is
/// the one a channel names: rustup resolves a channel to a toolchain of that name only, so a
/// pinned `1.80.0` is not satisfied by a `stable` that happens to be 1.80.0.
fn satisfies(installed: &str, channel: &str) -> bool {
    installed == channel
        || installed.strip_prefix(channel).is_some_and(|rest| rest.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_is_satisfied_only_by_a_toolchain_of_its_name() {
        assert!(satisfies("stable-x86_64-unknown-linux-gnu", "stable"));
        assert!(satisfies("1.80.0-x86_64-unknown-linux-gnu", "1.80.0"));
        assert!(satisfies("nightly-2024-05-01-x86_64-unknown-linux-gnu", "nightly-2024-05-01"));
        assert!(!satisfies("stable-x86_64-unknown-linux-gnu", "1.80.0"));
        assert!(!satisfies("1.80.1-x86_64-unknown-linux-gnu", "1.80"));
        assert!(!satisfies("nightly-x86_64-unknown-linux-gnu", "nightly-2024-05-01"));
    }

    #[test]
    fn toolchain_files_in_both_forms_name_their_channel() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("rust-toolchain.toml");
        std::fs::write(&file, "[toolchain]\nchannel = \"1.80.0\"\ncomponents = [\"clippy\"]\n")
            .expect("write");
        assert_eq!(channel(&file).expect("channel"), "1.80.0");
        let plain = dir.path().join("rust-toolchain");
        std::fs::write(&plain, "nightly-2024-05-01\n").expect("write");
        assert_eq!(channel(&plain).expect("channel"), "nightly-2024-05-01");
        std::fs::write(&file, "[toolchain]\nprofile = \"minimal\"\n").expect("write");
        assert!(channel(&file).unwrap_err().to_string().contains("no `[toolchain] channel`"));
    }
}

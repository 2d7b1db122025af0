//! Where sera-rs keeps what it caches across runs.

use std::path::PathBuf;

/// The folder sera-rs keeps its caches in (baselines, environments) when the caller names none:
/// `$XDG_CACHE_HOME/sera/<kind>`, else `$HOME/.cache/sera/<kind>`; `None` when neither is set.
pub fn user_cache_dir(kind: &str) -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("sera").join(kind))
}

//! Stable, content-derived ids.

use sha2::{Digest, Sha256};

/// A stable id: `prefix` followed by the first 16 hex digits of the SHA-256 of `parts`.
///
/// Parts are length-prefixed before hashing so that `["ab", "c"]` and `["a", "bc"]` differ.
/// The same parts give the same id on every machine and in every run, which is what lets a
/// resumed run skip records it already wrote.
///
/// ```
/// let a = sera_core::stable_id("m", &["repo", "src/lib.rs", "swap-operands", "10..20"]);
/// assert_eq!(a, sera_core::stable_id("m", &["repo", "src/lib.rs", "swap-operands", "10..20"]));
/// assert!(a.starts_with("m-") && a.len() == 18);
/// ```
pub fn stable_id(prefix: &str, parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut id = String::with_capacity(prefix.len() + 17);
    id.push_str(prefix);
    id.push('-');
    for byte in &digest[..8] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

//! beta-core: word helpers, the other member of the workspace fixture. Its package name is not
//! its directory's name, and its library is named `beta_core`.

/// The number of words in `text`.
///
/// ```
/// assert_eq!(beta_core::word_count("a b"), 2);
/// ```
pub fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

/// `text` with its first letter in upper case.
pub fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_count_ignores_extra_spaces() {
        assert_eq!(word_count("  one  two "), 2);
    }

    #[test]
    fn capitalize_keeps_the_rest() {
        assert_eq!(capitalize("hello World"), "Hello World");
    }
}

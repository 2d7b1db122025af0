#[test]
fn helpers_agree() {
    assert_eq!(beta_core::word_count(&beta_core::capitalize("two words")), 2);
}

#[test]
fn empty_text_has_no_words() {
    assert_eq!(beta_core::word_count(""), 0);
    assert_eq!(beta_core::capitalize(""), "");
}

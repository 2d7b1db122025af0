use ledger::parse::{parse_amount, parse_ledger, words};
use ledger::stats::{clamp, histogram, mean, median, running_total};

#[test]
fn parses_a_small_ledger() {
    let text = "open alice\nopen bob 200 # with overdraft\ndeposit alice +1500\ntransfer alice bob 500\n";
    let ledger = parse_ledger(text).unwrap();
    assert_eq!(ledger.account("alice").unwrap().balance, 1000);
    assert_eq!(ledger.account("bob").unwrap().balance, 500);
    assert_eq!(ledger.account("bob").unwrap().overdraft, 200);
}

#[test]
fn comments_and_blank_lines_are_ignored() {
    assert_eq!(words("deposit a 5 # note"), vec!["deposit", "a", "5"]);
    assert!(words("   # only a comment").is_empty());
}

#[test]
fn amounts_accept_a_plus_sign() {
    assert_eq!(parse_amount("+42"), Some(42));
    assert_eq!(parse_amount("-7"), Some(-7));
    assert_eq!(parse_amount("x"), None);
}

#[test]
fn mean_and_median() {
    assert_eq!(mean(&[]), None);
    assert_eq!(mean(&[1, 2, 3, 4]), Some(2.5));
    assert_eq!(median(&[5, 1, 3]), Some(3));
    assert_eq!(median(&[4, 1, 3, 2]), Some(2));
}

#[test]
fn clamp_keeps_values_in_range() {
    assert_eq!(clamp(5, 0, 10), 5);
    assert_eq!(clamp(-3, 0, 10), 0);
    assert_eq!(clamp(12, 0, 10), 10);
    assert_eq!(clamp(10, 0, 10), 10);
}

#[test]
fn histogram_counts_every_value_once() {
    let counts = histogram(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 5);
    assert_eq!(counts, vec![2, 2, 2, 2, 2]);
    assert_eq!(histogram(&[], 3), vec![0, 0, 0]);
}

#[test]
fn running_total_accumulates() {
    assert_eq!(running_total(&[1, 2, 3]), vec![1, 3, 6]);
}

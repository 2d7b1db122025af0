//! Reads a ledger from lines such as `open alice 500` and `deposit alice 1000`.

use crate::account::{Ledger, LedgerError};

/// Parses one amount, accepting an optional leading `+`.
pub fn parse_amount(word: &str) -> Option<i64> {
    let digits = word.strip_prefix('+').unwrap_or(word);
    digits.parse().ok()
}

/// Splits a line into words, ignoring a trailing `#` comment.
pub fn words(line: &str) -> Vec<&str> {
    let line = match line.find('#') {
        Some(at) => &line[..at],
        None => line,
    };
    line.split_whitespace().collect()
}

pub fn parse_ledger(text: &str) -> Result<Ledger, LedgerError> {
    let mut ledger = Ledger::new();
    for line in text.lines() {
        let words = words(line);
        match words.as_slice() {
            [] => continue,
            ["open", name] => {
                ledger.open(name, 0);
            }
            ["open", name, overdraft] => {
                let overdraft = parse_amount(overdraft).ok_or(LedgerError::InvalidAmount(0))?;
                ledger.open(name, overdraft);
            }
            ["deposit", name, amount] => {
                let amount = parse_amount(amount).ok_or(LedgerError::InvalidAmount(0))?;
                ledger.deposit(name, amount)?;
            }
            ["transfer", from, to, amount] => {
                let amount = parse_amount(amount).ok_or(LedgerError::InvalidAmount(0))?;
                ledger.transfer(from, to, amount)?;
            }
            _ => return Err(LedgerError::UnknownAccount(line.trim().to_string())),
        }
    }
    Ok(ledger)
}

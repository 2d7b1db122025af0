//! A small bookkeeping library: the Rust fixture repository of sera-rs.

pub mod account;
pub mod parse;
pub mod stats;

pub use account::{Account, Ledger, LedgerError};

/// Formats an amount of cents as `-12.34`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Loads a ledger from text without blocking; the fixture has no runtime, the index only
/// needs to see an `async fn`.
pub async fn load_async(text: &str) -> Result<Ledger, LedgerError> {
    parse::parse_ledger(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_positive_and_negative_cents() {
        assert_eq!(format_cents(1234), "12.34");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(0), "0.00");
    }
}

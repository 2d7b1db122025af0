//! Accounts and the ledger that moves money between them.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    UnknownAccount(String),
    InsufficientFunds { account: String, needed: i64, available: i64 },
    InvalidAmount(i64),
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LedgerError::UnknownAccount(name) => write!(f, "unknown account {name}"),
            LedgerError::InsufficientFunds { account, needed, available } => {
                write!(f, "{account} needs {needed} but has {available}")
            }
            LedgerError::InvalidAmount(amount) => write!(f, "invalid amount {amount}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub balance: i64,
    pub overdraft: i64,
}

impl Account {
    pub fn new(name: &str) -> Self {
        Account { name: name.to_string(), balance: 0, overdraft: 0 }
    }

    /// How much can be withdrawn right now.
    pub fn available(&self) -> i64 {
        self.balance + self.overdraft
    }

    pub fn can_withdraw(&self, amount: i64) -> bool {
        amount <= self.available()
    }
}

pub trait Describe {
    fn describe(&self) -> String;
}

impl Describe for Account {
    fn describe(&self) -> String {
        format!("{}: {}", self.name, crate::format_cents(self.balance))
    }
}

#[derive(Debug, Default)]
pub struct Ledger {
    accounts: BTreeMap<String, Account>,
    history: Vec<(String, String, i64)>,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn open(&mut self, name: &str, overdraft: i64) -> &mut Account {
        let account = self.accounts.entry(name.to_string()).or_insert_with(|| Account::new(name));
        account.overdraft = overdraft;
        account
    }

    pub fn account(&self, name: &str) -> Result<&Account, LedgerError> {
        self.accounts.get(name).ok_or_else(|| LedgerError::UnknownAccount(name.to_string()))
    }

    pub fn deposit(&mut self, name: &str, amount: i64) -> Result<i64, LedgerError> {
        if amount <= 0 {
            return Err(LedgerError::InvalidAmount(amount));
        }
        let account = self
            .accounts
            .get_mut(name)
            .ok_or_else(|| LedgerError::UnknownAccount(name.to_string()))?;
        account.balance += amount;
        Ok(account.balance)
    }

    /// Moves `amount` from one account to another, all or nothing.
    pub fn transfer(&mut self, from: &str, to: &str, amount: i64) -> Result<(), LedgerError> {
        if amount <= 0 {
            return Err(LedgerError::InvalidAmount(amount));
        }
        self.account(to)?;
        let source = self.account(from)?;
        if !source.can_withdraw(amount) {
            return Err(LedgerError::InsufficientFunds {
                account: from.to_string(),
                needed: amount,
                available: source.available(),
            });
        }
        self.accounts.get_mut(from).expect("checked above").balance -= amount;
        self.accounts.get_mut(to).expect("checked above").balance += amount;
        self.history.push((from.to_string(), to.to_string(), amount));
        Ok(())
    }

    pub fn total(&self) -> i64 {
        self.accounts.values().map(|account| account.balance).sum()
    }

    /// Names of accounts whose balance is below zero, sorted.
    pub fn overdrawn(&self) -> Vec<String> {
        let is_overdrawn = |account: &&Account| account.balance < 0;
        self.accounts.values().filter(is_overdrawn).map(|a| a.name.clone()).collect()
    }

    /// The largest transfers first, at most `limit` of them.
    pub fn largest_transfers(&self, limit: usize) -> Vec<(String, String, i64)> {
        fn amount(entry: &(String, String, i64)) -> i64 {
            entry.2
        }
        let mut entries = self.history.clone();
        entries.sort_by(|a, b| amount(b).cmp(&amount(a)));
        entries.truncate(limit);
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        let mut ledger = Ledger::new();
        ledger.open("alice", 0);
        ledger.open("bob", 500);
        ledger.deposit("alice", 1000).unwrap();
        ledger
    }

    #[test]
    fn transfer_moves_money() {
        let mut ledger = ledger();
        ledger.transfer("alice", "bob", 300).unwrap();
        assert_eq!(ledger.account("alice").unwrap().balance, 700);
        assert_eq!(ledger.account("bob").unwrap().balance, 300);
        assert_eq!(ledger.total(), 1000);
    }

    #[test]
    fn transfer_of_exact_balance_is_allowed() {
        let mut ledger = ledger();
        ledger.transfer("alice", "bob", 1000).unwrap();
        assert_eq!(ledger.account("alice").unwrap().balance, 0);
    }

    #[test]
    fn transfer_beyond_funds_fails_and_changes_nothing() {
        let mut ledger = ledger();
        let err = ledger.transfer("alice", "bob", 1001).unwrap_err();
        assert_eq!(
            err,
            LedgerError::InsufficientFunds { account: "alice".into(), needed: 1001, available: 1000 }
        );
        assert_eq!(ledger.account("alice").unwrap().balance, 1000);
    }

    #[test]
    fn overdraft_allows_negative_balance() {
        let mut ledger = ledger();
        ledger.transfer("bob", "alice", 400).unwrap();
        assert_eq!(ledger.overdrawn(), vec!["bob".to_string()]);
    }

    #[test]
    fn non_positive_amounts_are_rejected() {
        let mut ledger = ledger();
        assert_eq!(ledger.deposit("alice", 0), Err(LedgerError::InvalidAmount(0)));
        assert_eq!(ledger.transfer("alice", "bob", -1), Err(LedgerError::InvalidAmount(-1)));
    }

    #[test]
    fn unknown_accounts_are_reported() {
        let mut ledger = ledger();
        assert_eq!(ledger.transfer("alice", "carol", 1), Err(LedgerError::UnknownAccount("carol".into())));
    }

    #[test]
    fn largest_transfers_come_first() {
        let mut ledger = ledger();
        ledger.transfer("alice", "bob", 100).unwrap();
        ledger.transfer("alice", "bob", 300).unwrap();
        ledger.transfer("alice", "bob", 200).unwrap();
        let amounts: Vec<i64> = ledger.largest_transfers(2).into_iter().map(|t| t.2).collect();
        assert_eq!(amounts, vec![300, 200]);
    }

    #[test]
    fn describe_shows_name_and_balance() {
        assert_eq!(ledger().account("alice").unwrap().describe(), "alice: 10.00");
    }
}

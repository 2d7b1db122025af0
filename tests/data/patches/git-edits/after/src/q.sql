keep
--- sql comment
keep

keep
-- sql comment
keep

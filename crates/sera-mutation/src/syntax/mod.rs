//! The one module that talks to tree-sitter: parsing, finding mutation sites, and the re-parse
//! check. Everything outside it sees plain byte ranges and replacement text.
//!
//! A site is a single splice `text[start..end] -> replacement`, so a mutant changes only the
//! bytes it must and the surrounding formatting survives untouched.

mod python;
mod rust;

use std::borrow::Cow;
use std::sync::OnceLock;

use sera_core::Language;
use tree_sitter::{InputEdit, Node, Parser, Point, Tree};

use crate::operators::Op;

/// One place an operator can change the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Site {
    pub op: Op,
    pub start: usize,
    pub end: usize,
    pub replacement: String,
    /// What changes, without the function name, e.g. "replace `<` with `<=`".
    pub what: String,
}

/// A parsed source file.
pub(crate) struct Parsed {
    pub tree: Tree,
    pub language: Language,
}

/// Parses `text`; `None` when tree-sitter gives up or the tree contains syntax errors (the
/// re-parse check needs an error-free original to compare against).
pub(crate) fn parse(language: Language, text: &str) -> Option<Parsed> {
    let mut parser = parser(language);
    let tree = parser.parse(text, None)?;
    if tree.root_node().has_error() {
        return None;
    }
    Some(Parsed { tree, language })
}

/// A tree parsed elsewhere, as [`parse`] would have returned it: `Some(None)` when it has
/// syntax errors, `None` when it was not made with this module's grammar for `language` (the
/// caller then parses the text itself).
pub(crate) fn adopt(language: Language, tree: Tree) -> Option<Option<Parsed>> {
    let ours = grammar(language);
    let theirs = tree.language();
    let same = theirs.abi_version() == ours.abi_version()
        && theirs.node_kind_count() == ours.node_kind_count()
        && theirs.field_count() == ours.field_count()
        && theirs.name() == ours.name();
    if !same {
        return None;
    }
    Some((!tree.root_node().has_error()).then_some(Parsed { tree, language }))
}

/// Every site in the file that touches `regions` (sorted, disjoint byte ranges: the code to
/// mutate), outside code that must not be mutated (tests, `unsafe fn`).
pub(crate) fn sites(parsed: &Parsed, text: &str, regions: &[(usize, usize)]) -> Vec<Site> {
    let kinds = kinds(parsed.language);
    let mut ctx = Ctx { text, kinds, regions, sites: Vec::new() };
    match parsed.language {
        Language::Rust => rust::walk(&mut ctx, parsed.tree.root_node()),
        Language::Python => python::walk(&mut ctx, parsed.tree.root_node()),
    }
    ctx.sites
}

/// Node kind names by kind id, for one grammar. `Node::kind` measures and checks the C string
/// on every call, which a walk over every node of a repository would pay millions of times.
pub(super) struct Kinds {
    names: Vec<&'static str>,
}

impl Kinds {
    fn new(language: &tree_sitter::Language) -> Kinds {
        let count = language.node_kind_count() as u16;
        let names = (0..count).map(|id| language.node_kind_for_id(id).unwrap_or("")).collect();
        Kinds { names }
    }

    /// What `node.kind()` says, without the C string. Ids beyond the table (tree-sitter's own
    /// `ERROR`) take the slow path.
    pub fn of(&self, node: Node<'_>) -> &'static str {
        match self.names.get(usize::from(node.kind_id())) {
            Some(name) => name,
            None => node.kind(),
        }
    }
}

/// The kind table of a language's grammar, built on first use.
fn kinds(language: Language) -> &'static Kinds {
    static RUST: OnceLock<Kinds> = OnceLock::new();
    static PYTHON: OnceLock<Kinds> = OnceLock::new();
    let table = match language {
        Language::Rust => &RUST,
        Language::Python => &PYTHON,
    };
    table.get_or_init(|| Kinds::new(&grammar(language)))
}

/// A node met by [`preorder`], with its kind and the nodes it lies in.
pub(super) struct Visit<'t, 'a> {
    pub node: Node<'t>,
    pub kind: &'static str,
    /// The enclosing nodes with their kinds, outermost first. Asking the walk costs nothing,
    /// whereas `Node::parent` searches down from the root.
    pub ancestors: &'a [(Node<'t>, &'static str)],
}

impl<'t> Visit<'t, '_> {
    pub fn parent(&self) -> Option<(Node<'t>, &'static str)> {
        self.ancestors.last().copied()
    }

    pub fn grandparent(&self) -> Option<(Node<'t>, &'static str)> {
        self.ancestors.len().checked_sub(2).map(|i| self.ancestors[i])
    }
}

/// Calls `enter` on every node under `root` (itself included) in source order, descending only
/// into nodes it returns `true` for. A tree-cursor walk: no recursion, so deeply nested
/// generated code cannot overflow the stack, and no allocation per node.
fn preorder<'t>(root: Node<'t>, kinds: &Kinds, mut enter: impl FnMut(&Visit<'t, '_>) -> bool) {
    let mut cursor = root.walk();
    let mut ancestors: Vec<(Node<'t>, &'static str)> = Vec::new();
    loop {
        let node = cursor.node();
        let kind = kinds.of(node);
        if enter(&Visit { node, kind, ancestors: &ancestors }) && cursor.goto_first_child() {
            ancestors.push((node, kind));
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return;
            }
            ancestors.pop();
        }
    }
}

/// How a grammar names the parts of a method-call chain `x.a(..).b(..)`.
pub(super) struct ChainGrammar {
    /// The kind of a call node; its callee is the field `function`.
    pub call: &'static str,
    /// The kind of a member access `x.a`.
    pub member: &'static str,
    /// The field of a member access holding `x`.
    pub member_object: &'static str,
    /// The field of a member access holding `a`.
    pub member_name: &'static str,
}

/// `x.a(..).b(..)` becomes `x.b(..)` (operator `break-chain`), for the call `node`.
pub(super) fn break_chain(ctx: &mut Ctx<'_>, node: Node<'_>, g: &ChainGrammar) {
    let member = |n: Node<'_>| ctx.kind(n) == g.member;
    let Some(outer) = node.child_by_field_name("function").filter(|f| member(*f)) else { return };
    let Some(inner) = outer.child_by_field_name(g.member_object).filter(|o| ctx.kind(*o) == g.call)
    else {
        return;
    };
    let Some(link) = inner.child_by_field_name("function").filter(|f| member(*f)) else { return };
    let (Some(receiver), Some(name)) =
        (link.child_by_field_name(g.member_object), link.child_by_field_name(g.member_name))
    else {
        return;
    };
    // `self.get(x).y()` to `self.y()` calls a different method, not a shorter chain.
    if ctx.text_of(receiver) == "self" {
        return;
    }
    let what = format!("drop `.{}(..)` from a call chain", ctx.text_of(name));
    ctx.push(Op::BreakChain, receiver.end_byte(), inner.end_byte(), String::new(), what);
}

/// A parser kept per thread and reused for every re-parse on it.
pub(crate) struct Reparser {
    parser: Parser,
    language: Language,
}

impl Reparser {
    pub fn new(language: Language) -> Reparser {
        Reparser { parser: parser(language), language }
    }

    /// Whether the file still parses without errors after `text[start..end]` is replaced.
    ///
    /// Re-parsing a whole large file for each of thousands of mutants would dominate the run,
    /// so the check parses only the innermost region around the change, on its own: a
    /// statement, the statements of a block that the change touches, a block, a call's
    /// parenthesised arguments, or the condition of an `if`, `while` or `match`. Those parse
    /// the same standalone as in place (Rust ones inside `fn _f()`, Python ones as whole lines
    /// under `if 1:`): brackets delimit a block or an argument list whatever surrounds it, a
    /// condition ends where its body's `{` (or Python's `:`) begins, and statements are
    /// followed by one more (`_f();`, `pass`) unless they end their block, as in place. So a
    /// change that keeps the region parsing cannot break the rest of the file. Where the
    /// original region does not parse standalone, the whole file is re-parsed incrementally
    /// instead.
    pub fn still_parses(
        &mut self,
        parsed: &Parsed,
        text: &str,
        start: usize,
        end: usize,
        replacement: &str,
    ) -> bool {
        if let Some(Region { lo, hi, prefix, suffix }) = self.region(parsed, text, start, end) {
            let mut region = String::with_capacity(hi - lo + replacement.len() + 32);
            region.push_str(prefix);
            region.push_str(&text[lo..start]);
            region.push_str(replacement);
            region.push_str(&text[end..hi]);
            region.push_str(&suffix);
            if self.parses_cleanly(&region) {
                return true;
            }
            let original = format!("{prefix}{}{suffix}", &text[lo..hi]);
            if self.parses_cleanly(&original) {
                return false;
            }
        }
        self.whole_file_parses(parsed, text, start, end, replacement)
    }

    /// The innermost region around `start..end` (see [`Self::still_parses`]).
    fn region(&self, parsed: &Parsed, text: &str, start: usize, end: usize) -> Option<Region> {
        let span = |n: Node<'_>| (n.start_byte(), n.end_byte());
        let field = |n: Node<'_>, name: &str| n.child_by_field_name(name).map(span);
        let fixed = |(lo, hi): (usize, usize), prefix, suffix| {
            Some(Region { lo, hi, prefix, suffix: Cow::Borrowed(suffix) })
        };
        let mut node = parsed.tree.root_node().descendant_for_byte_range(start, end)?;
        loop {
            let found = match (self.language, node.kind()) {
                // Rust statements and blocks mean the same inside any function body.
                (Language::Rust, "block") => statements(text, node, start, end, self.language)
                    .or_else(|| fixed(span(node), "fn _f() ", "")),
                (Language::Rust, "expression_statement" | "let_declaration") => {
                    let suffix = if ends_block(node) { "}" } else { "\n_f();}" };
                    fixed(span(node), "fn _f() {", suffix)
                }
                (Language::Rust, "arguments") => fixed(span(node), "fn _f() { _f", "; }"),
                (Language::Rust, "if_expression" | "while_expression") => {
                    field(node, "condition").and_then(|c| fixed(c, "fn _f() { if ", " {} }"))
                }
                (Language::Rust, "match_expression") => {
                    field(node, "value").and_then(|v| fixed(v, "fn _f() { match ", " {} }"))
                }
                (Language::Python, "argument_list") => fixed(span(node), "_f", "\n"),
                (Language::Python, "if_statement" | "elif_clause" | "while_statement")
                    if field(node, "condition").is_some_and(|c| c.0 <= start && end <= c.1) =>
                {
                    field(node, "condition").and_then(|c| fixed(c, "if ", ":\n    pass\n"))
                }
                (Language::Python, "block") => statements(text, node, start, end, self.language)
                    .or_else(|| python_lines(text, span(node))),
                // A Python statement is taken as whole lines, which keeps relative indentation,
                // and put under `if 1:` so that its own indentation is legal.
                (Language::Python, kind) if kind.ends_with("_statement") => {
                    python_lines(text, span(node))
                }
                _ => None,
            };
            if let Some(region) = found.filter(|r| r.lo <= start && end <= r.hi) {
                return Some(region);
            }
            node = node.parent()?;
        }
    }

    fn parses_cleanly(&mut self, text: &str) -> bool {
        self.parser.parse(text, None).is_some_and(|tree| !tree.root_node().has_error())
    }

    /// The fallback: the whole changed file, re-parsed incrementally from the original tree.
    fn whole_file_parses(
        &mut self,
        parsed: &Parsed,
        old: &str,
        start: usize,
        end: usize,
        replacement: &str,
    ) -> bool {
        let mut new = String::with_capacity(old.len() + replacement.len());
        new.push_str(&old[..start]);
        new.push_str(replacement);
        new.push_str(&old[end..]);
        let mut tree = parsed.tree.clone();
        let new_end = start + replacement.len();
        tree.edit(&InputEdit {
            start_byte: start,
            old_end_byte: end,
            new_end_byte: new_end,
            start_position: point_at(old, start),
            old_end_position: point_at(old, end),
            new_end_position: point_at(&new, new_end),
        });
        self.parser.parse(&new, Some(&tree)).is_some_and(|tree| !tree.root_node().has_error())
    }
}

/// Text to parse standalone instead of the whole file: `prefix`, the file's `lo..hi` (with the
/// change), `suffix`.
struct Region {
    lo: usize,
    hi: usize,
    prefix: &'static str,
    suffix: Cow<'static, str>,
}

/// The start of the line `at` is on.
fn line_start(text: &str, at: usize) -> usize {
    text.as_bytes()[..at].iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
}

/// Whether `node` is the last of its block's code (comments aside).
fn ends_block(node: Node<'_>) -> bool {
    let mut next = node.next_named_sibling();
    while let Some(sibling) = next {
        if !sibling.kind().ends_with("comment") {
            return false;
        }
        next = sibling.next_named_sibling();
    }
    true
}

/// The whole lines of a Python statement or block at `span`, under `if 1:` when indented.
fn python_lines(text: &str, (start, end): (usize, usize)) -> Option<Region> {
    let lo = line_start(text, start);
    let prefix = if lo < start { "if 1:\n" } else { "" };
    Some(Region { lo, hi: end, prefix, suffix: Cow::Borrowed("") })
}

/// The statements of `block` that `start..end` touches, when the change lies inside the block's
/// brackets (Rust) or starts its own lines (Python): a deletion or a swap of statements then
/// parses a few statements rather than the whole block. They are followed by one more
/// statement unless they end the block, so that a statement left unterminated is caught.
fn statements(
    text: &str,
    block: Node<'_>,
    start: usize,
    end: usize,
    language: Language,
) -> Option<Region> {
    let mut cursor = block.walk();
    let children: Vec<Node<'_>> = block
        .named_children(&mut cursor)
        .filter(|n| n.kind() != "label" && !n.kind().ends_with("comment"))
        .collect();
    let touched = |n: &Node<'_>| n.start_byte() < end.max(start + 1) && start < n.end_byte();
    let first = children.iter().position(touched)?;
    let last = children.iter().rposition(touched)?;
    let (lo, hi) = (start.min(children[first].start_byte()), end.max(children[last].end_byte()));
    match language {
        Language::Rust => {
            // The change must not touch the braces themselves.
            if lo <= block.start_byte() || hi >= block.end_byte() {
                return None;
            }
            let suffix = if last + 1 == children.len() { "}" } else { "\n_f();}" };
            Some(Region { lo, hi, prefix: "fn _f() {", suffix: Cow::Borrowed(suffix) })
        }
        Language::Python => {
            let lo = line_start(text, lo);
            let first_start = children[first].start_byte();
            if !text[lo..first_start].bytes().all(|b| b.is_ascii_whitespace()) {
                return None;
            }
            let indent = &text[line_start(text, first_start)..first_start];
            let prefix = if indent.is_empty() { "" } else { "if 1:\n" };
            let suffix = format!("\n{indent}pass\n");
            Some(Region { lo, hi, prefix, suffix: Cow::Owned(suffix) })
        }
    }
}

fn grammar(language: Language) -> tree_sitter::Language {
    match language {
        Language::Rust => tree_sitter_rust::LANGUAGE.into(),
        Language::Python => tree_sitter_python::LANGUAGE.into(),
    }
}

fn parser(language: Language) -> Parser {
    let mut parser = Parser::new();
    parser
        .set_language(&grammar(language))
        .expect("the bundled grammars match the tree-sitter version");
    parser
}

/// The row and byte column of `offset`, as tree-sitter counts them.
fn point_at(text: &str, offset: usize) -> Point {
    let before = &text.as_bytes()[..offset];
    let row = before.iter().filter(|&&b| b == b'\n').count();
    let column = offset - line_start(text, offset);
    Point { row, column }
}

/// The state of one walk over a file.
pub(super) struct Ctx<'a> {
    pub text: &'a str,
    pub kinds: &'static Kinds,
    /// Where the sites may be, sorted and disjoint; the walk does not go elsewhere.
    pub regions: &'a [(usize, usize)],
    pub sites: Vec<Site>,
}

impl<'a> Ctx<'a> {
    pub fn text_of(&self, node: Node<'_>) -> &'a str {
        &self.text[node.byte_range()]
    }

    pub fn kind(&self, node: Node<'_>) -> &'static str {
        self.kinds.of(node)
    }

    /// Whether `node` overlaps a region, so that it may hold a site. A site lies within the
    /// node whose visit makes it or contains that node, so a walk that skips the nodes outside
    /// every region misses no site inside one.
    pub fn wanted(&self, node: Node<'_>) -> bool {
        let (start, end) = (node.start_byte(), node.end_byte());
        let i = self.regions.partition_point(|region| region.1 <= start);
        self.regions.get(i).is_some_and(|region| region.0 < end)
    }

    /// The named children of `node` that are not comments.
    pub fn code_children<'t>(&self, node: Node<'t>) -> Vec<Node<'t>> {
        let mut cursor = node.walk();
        node.named_children(&mut cursor).filter(|n| !self.kind(*n).contains("comment")).collect()
    }

    pub fn push(&mut self, op: Op, start: usize, end: usize, replacement: String, what: String) {
        if self.text[start..end] != replacement {
            self.sites.push(Site { op, start, end, replacement, what });
        }
    }

    /// Replaces the token `node` (an operator) with `to`.
    pub fn replace_token(&mut self, op: Op, node: Node<'_>, to: &str) {
        let from = self.text_of(node);
        self.push(
            op,
            node.start_byte(),
            node.end_byte(),
            to.to_string(),
            format!("replace `{from}` with `{to}`"),
        );
    }

    /// Deletes `node`; when it stands alone on its lines, the whole lines go, so the diff shows
    /// only removed lines and no stray indentation is left behind.
    pub fn delete(&mut self, op: Op, node: Node<'_>, what: String) {
        let (start, end) = self.line_extent(node.start_byte(), node.end_byte());
        self.push(op, start, end, String::new(), what);
    }

    /// Swaps the text of two sibling nodes, keeping what lies between them.
    pub fn swap(&mut self, op: Op, a: Node<'_>, b: Node<'_>, what: String) {
        let (ta, tb) = (self.text_of(a), self.text_of(b));
        if ta == tb {
            return;
        }
        let between = &self.text[a.end_byte()..b.start_byte()];
        let replacement = format!("{tb}{between}{ta}");
        self.push(op, a.start_byte(), b.end_byte(), replacement, what);
    }

    /// `start..end` widened to whole lines when only whitespace shares those lines.
    pub fn line_extent(&self, start: usize, end: usize) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let line_start = line_start(self.text, start);
        let line_end =
            bytes[end..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| end + i + 1);
        let blank = |s: &[u8]| s.iter().all(|b| b.is_ascii_whitespace());
        if blank(&bytes[line_start..start]) && blank(&bytes[end..line_end]) {
            (line_start, line_end)
        } else {
            (start, end)
        }
    }

    /// The indentation of the line `offset` is on.
    pub fn indent_at(&self, offset: usize) -> &'a str {
        let bytes = self.text.as_bytes();
        let line_start = line_start(self.text, offset);
        let width = bytes[line_start..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
        &self.text[line_start..line_start + width]
    }
}

/// Whether `word` occurs in `text` as a whole identifier.
pub(super) fn mentions(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The replacements of a binary operator token, shared by both languages (Python spells the
/// logical ones `and`/`or` and has `//` and `**`).
pub(super) fn binary_replacements(op: &str) -> &'static [(Op, &'static str)] {
    use Op::*;
    match op {
        "==" => &[(FlipComparison, "!=")],
        "!=" => &[(FlipComparison, "==")],
        "<" => &[
            (FlipComparison, ">"),
            (BoundaryComparison, "<="),
            (ChangeComparison, ">="),
            (ChangeComparison, "=="),
        ],
        "<=" => &[(FlipComparison, ">="), (BoundaryComparison, "<"), (ChangeComparison, ">")],
        ">" => &[
            (FlipComparison, "<"),
            (BoundaryComparison, ">="),
            (ChangeComparison, "<="),
            (ChangeComparison, "=="),
        ],
        ">=" => &[(FlipComparison, "<="), (BoundaryComparison, ">"), (ChangeComparison, "<")],
        "+" => &[(FlipArith, "-"), (ChangeArith, "*")],
        "-" => &[(FlipArith, "+"), (ChangeArith, "/")],
        "*" => &[(FlipArith, "/"), (ChangeArith, "+")],
        "/" => &[(FlipArith, "*"), (ChangeArith, "%")],
        "%" => &[(ChangeArith, "/")],
        "//" => &[(FlipArith, "*"), (ChangeArith, "/")],
        "**" => &[(ChangeArith, "*")],
        "&&" => &[(FlipLogical, "||")],
        "||" => &[(FlipLogical, "&&")],
        "and" => &[(FlipLogical, "or")],
        "or" => &[(FlipLogical, "and")],
        "&" => &[(ChangeBitwise, "|"), (ChangeBitwise, "^")],
        "|" => &[(ChangeBitwise, "&"), (ChangeBitwise, "^")],
        "^" => &[(ChangeBitwise, "&")],
        "<<" => &[(ChangeBitwise, ">>")],
        ">>" => &[(ChangeBitwise, "<<")],
        "is" => &[(FlipComparison, "is not")],
        "is not" => &[(FlipComparison, "is")],
        "in" => &[(FlipComparison, "not in")],
        "not in" => &[(FlipComparison, "in")],
        _ => &[],
    }
}

/// The replacement of a compound assignment operator (`+=` and friends).
pub(super) fn compound_replacement(op: &str) -> Option<(Op, &'static str)> {
    Some(match op {
        "+=" => (Op::FlipArith, "-="),
        "-=" => (Op::FlipArith, "+="),
        "*=" => (Op::FlipArith, "/="),
        "/=" => (Op::FlipArith, "*="),
        "//=" => (Op::FlipArith, "*="),
        "%=" => (Op::ChangeArith, "/="),
        "|=" => (Op::ChangeBitwise, "&="),
        "&=" => (Op::ChangeBitwise, "|="),
        "^=" => (Op::ChangeBitwise, "|="),
        "<<=" => (Op::ChangeBitwise, ">>="),
        ">>=" => (Op::ChangeBitwise, "<<="),
        _ => return None,
    })
}

/// Operators whose operands may not be swapped without changing the meaning (or, for the
/// short-circuiting ones, the order of evaluation).
pub(super) fn swap_changes_meaning(op: &str) -> bool {
    matches!(
        op,
        "-" | "/"
            | "//"
            | "%"
            | "**"
            | "<<"
            | ">>"
            | "<"
            | "<="
            | ">"
            | ">="
            | "&&"
            | "||"
            | "and"
            | "or"
            | "in"
            | "not in"
    )
}

/// A short, one-line rendering of code for descriptions.
pub(super) fn snippet(code: &str) -> String {
    let line = code.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(48).collect();
    if out.len() < line.len() || code.trim().contains('\n') {
        out.push_str("...");
    }
    out
}

/// `value + 1` and `value - 1` for a decimal integer literal such as `41`, `7usize` or `1_000`
/// (the suffix is kept); nothing for hex, octal, binary or out-of-range literals.
pub(super) fn off_by_one(literal: &str) -> Vec<String> {
    let digits_end =
        literal.find(|c: char| !(c.is_ascii_digit() || c == '_')).unwrap_or(literal.len());
    let (digits, suffix) = literal.split_at(digits_end);
    if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
        return Vec::new();
    }
    // Only plain type suffixes are kept; anything else (`0x..`, `1e3`, `2.5`) is not an integer.
    if !suffix.is_empty() && !suffix.trim_start_matches('_').starts_with(['i', 'u']) {
        return Vec::new();
    }
    let Ok(value) = digits.replace('_', "").parse::<u64>() else { return Vec::new() };
    let mut out = Vec::new();
    if let Some(up) = value.checked_add(1) {
        out.push(format!("{up}{suffix}"));
    }
    if value > 0 {
        out.push(format!("{}{suffix}", value - 1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(language: Language, text: &str, from: &str, to: &str, expected: bool) {
        let parsed = parse(language, text).unwrap();
        let (start, end) = (text.find(from).unwrap(), text.find(from).unwrap() + from.len());
        let mut reparser = Reparser::new(language);
        let region = reparser.still_parses(&parsed, text, start, end, to);
        // The function-only check agrees with re-parsing the whole changed file.
        let whole = reparser.whole_file_parses(&parsed, text, start, end, to);
        assert_eq!((region, whole), (expected, expected), "{from:?} -> {to:?}");
    }

    #[test]
    fn trees_of_our_grammars_are_adopted_and_others_are_not() {
        let rust = parse(Language::Rust, "fn f() -> u8 { 1 }\n").unwrap().tree;
        let python = parse(Language::Python, "def f():\n    return 1\n").unwrap().tree;
        assert!(matches!(adopt(Language::Rust, rust.clone()), Some(Some(_))));
        assert!(matches!(adopt(Language::Python, python.clone()), Some(Some(_))));
        assert!(adopt(Language::Rust, python).is_none());
        assert!(adopt(Language::Python, rust).is_none());
        let broken = parser(Language::Rust).parse("fn f( {\n", None).unwrap();
        assert!(matches!(adopt(Language::Rust, broken), Some(None)));
    }

    #[test]
    fn reparse_check_rejects_broken_changes_only() {
        let rust = "impl A {\n    fn f(&self) -> u8 {\n        self.x + 1\n    }\n}\n";
        check(Language::Rust, rust, "+ 1", "- 1", true);
        check(Language::Rust, rust, "+ 1", "+", false);
        check(Language::Rust, rust, "self.x + 1", "{ 1", false);
        let python = "class A:\n    def f(self):\n        if self.x:\n            return 1\n        return 2\n";
        check(Language::Python, python, "return 1", "pass", true);
        check(Language::Python, python, "return 1", "return 1)", false);
        check(Language::Python, python, "self.x:", "self.x", false);
    }

    /// Each kind of region, with changes that keep the file parsing and changes that break it,
    /// agrees with re-parsing the whole file.
    #[test]
    fn every_region_agrees_with_the_whole_file() {
        let rust = "impl A {\n    fn f(&self) -> u8 {\n        self.a(1, 2);\n        let x = self.b();\n        if self.x > 1 && x {\n            return 0;\n        }\n        match self.y + 1 {\n            _ => {}\n        }\n        self.c();\n        x\n    }\n}\n";
        let statement = "        let x = self.b();\n";
        let cases = [
            ("(1, 2)", "(2, 1)", true),
            ("(1, 2)", "(1 2)", false),
            ("> 1 &&", ">= 1 ||", true),
            ("> 1 &&", "> 1) &&", false),
            ("self.y + 1", "1 + self.y", true),
            ("self.y + 1", "self.y +", false),
            (statement, "", true),
            (statement, "        self.c();\n", true),
            (statement, "        let x = self.b()\n", false),
            ("self.a(1, 2);", "self.a(1, 2)", false),
            ("        x\n", "", true),
            ("        x\n", "        x x\n", false),
        ];
        for (from, to, expected) in cases {
            check(Language::Rust, rust, from, to, expected);
        }
        let python = "class A:\n    def f(self):\n        self.a(1, 2)\n        x = self.b()\n        if self.x > 1 and x:\n            return 0\n        self.c()\n        return x\n";
        let statement = "        x = self.b()\n";
        let cases = [
            ("(1, 2)", "(2, 1)", true),
            ("(1, 2)", "(1 2)", false),
            ("> 1 and", ">= 1 or", true),
            ("> 1 and", "> and", false),
            (statement, "", true),
            (statement, "        self.c()\n", true),
            (statement, "        x = (self.b()\n", false),
            (statement, "        x = = self.b()\n", false),
            ("return 0", "return 0)", false),
        ];
        for (from, to, expected) in cases {
            check(Language::Python, python, from, to, expected);
        }
    }

    /// The walk names every node as `Node::kind` does and hands it the same ancestors that
    /// `Node::parent` finds.
    #[test]
    fn preorder_gives_kinds_and_ancestors_as_tree_sitter_does() {
        let rust = "mod m {\n    fn f(x: &[u8; 4]) -> u8 { if x[0] > 1 { x.iter().sum() } else { 0 } }\n}\n";
        let python = "class A:\n    def f(self, a):\n        return [x for x in a if not x]\n";
        for (language, text) in [(Language::Rust, rust), (Language::Python, python)] {
            let tree = parse(language, text).unwrap().tree;
            let mut seen = 0;
            preorder(tree.root_node(), kinds(language), |v| {
                assert_eq!(v.kind, v.node.kind());
                let mut expected = Vec::new();
                let mut node = v.node;
                while let Some(parent) = node.parent() {
                    expected.push((parent, parent.kind()));
                    node = parent;
                }
                expected.reverse();
                assert_eq!(v.ancestors, expected.as_slice(), "{:?}", v.node);
                seen += 1;
                true
            });
            assert!(seen > 30, "{seen} nodes");
        }
    }

    /// A walk restricted to regions finds every site of the full walk that lies inside one.
    #[test]
    fn regions_keep_every_site_inside_them() {
        for (language, text) in [
            (Language::Rust, include_str!("../../tests/data/sample.rs")),
            (Language::Python, include_str!("../../tests/data/sample.py")),
        ] {
            let parsed = parse(language, text).unwrap();
            let all = sites(&parsed, text, &[(0, text.len())]);
            let third = text.len() / 3;
            // Region edges that cut through functions, statements and tokens.
            for regions in
                [vec![(0, third)], vec![(third, 2 * third)], vec![(7, 90), (third, text.len())]]
            {
                let inside =
                    |site: &&Site| regions.iter().any(|r| r.0 <= site.start && site.end <= r.1);
                let expected: Vec<&Site> = all.iter().filter(inside).collect();
                let walked = sites(&parsed, text, &regions);
                let found: Vec<&Site> = walked.iter().filter(inside).collect();
                // The walk left out part of the file, and lost nothing inside the regions.
                assert!(!expected.is_empty() && walked.len() < all.len());
                assert_eq!(found, expected, "{language:?} {regions:?}");
            }
            assert!(sites(&parsed, text, &[]).is_empty());
        }
    }

    #[test]
    fn off_by_one_keeps_suffixes_and_skips_non_decimal_literals() {
        assert_eq!(off_by_one("7usize"), ["8usize", "6usize"]);
        assert_eq!(off_by_one("0"), ["1"]);
        assert_eq!(off_by_one("1_000"), ["1001", "999"]);
        assert!(off_by_one("0xff").is_empty());
        assert!(off_by_one("1e3").is_empty());
        assert!(off_by_one("99999999999999999999999").is_empty());
    }
}

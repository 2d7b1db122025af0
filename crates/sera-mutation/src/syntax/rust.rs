//! Rust sites, on the tree-sitter-rust grammar.

use tree_sitter::Node;

use super::{
    ChainGrammar, Ctx, Visit, binary_replacements, break_chain, compound_replacement, mentions,
    off_by_one, preorder, snippet, swap_changes_meaning,
};
use crate::operators::Op;

/// Rust's names for the parts of `x.a(..).b(..)`.
const CHAIN: ChainGrammar = ChainGrammar {
    call: "call_expression",
    member: "field_expression",
    member_object: "value",
    member_name: "field",
};

pub(super) fn walk(ctx: &mut Ctx<'_>, root: Node<'_>) {
    // A file-level `#![cfg(test)]` makes the whole file test code.
    let mut cursor = root.walk();
    if root
        .children(&mut cursor)
        .any(|n| ctx.kind(n) == "inner_attribute_item" && is_test_attribute(ctx.text_of(n)))
    {
        return;
    }
    // Attributes are the siblings before their item, and the walk meets them first: a test
    // attribute marks its depth until the next item (comments and other attributes between
    // them keep the mark).
    let mut test_attribute: Vec<bool> = Vec::new();
    let kinds = ctx.kinds;
    preorder(root, kinds, |v| {
        let depth = v.ancestors.len();
        test_attribute.resize(depth + 1, false);
        let is_test_item = match v.kind {
            "attribute_item" => {
                test_attribute[depth] |= is_test_attribute(ctx.text_of(v.node));
                false
            }
            "line_comment" | "block_comment" => false,
            _ if v.node.is_named() => {
                std::mem::take(&mut test_attribute[depth]) && v.kind.ends_with("_item")
            }
            _ => false,
        };
        let enter = !is_test_item && ctx.wanted(v.node) && !skipped(ctx, v);
        if enter {
            visit(ctx, v);
        }
        enter
    });
}

fn visit(ctx: &mut Ctx<'_>, v: &Visit<'_, '_>) {
    let node = v.node;
    match v.kind {
        "function_item" => fn_body(ctx, node),
        "binary_expression" => binary(ctx, node),
        "compound_assignment_expr" => compound(ctx, node),
        "unary_expression" => unary(ctx, node),
        "integer_literal" => constant(ctx, v),
        "range_expression" => range(ctx, node),
        "call_expression" => {
            break_chain(ctx, node, &CHAIN);
            arguments(ctx, node);
        }
        "if_expression" => if_expression(ctx, v),
        "for_expression" | "while_expression" | "loop_expression" => {
            if let Some(statement) = statement_of(v)
                && !(v.kind == "loop_expression" && is_block_value(ctx, &statement))
            {
                let keyword = v.kind.trim_end_matches("_expression");
                ctx.delete(Op::RemoveLoop, statement.node, format!("delete the `{keyword}` loop"));
            }
        }
        "expression_statement" => statement(ctx, node),
        "block" => swap_statements(ctx, node),
        "try_expression" => {
            let mut cursor = node.walk();
            if let Some(mark) = node.children(&mut cursor).find(|n| ctx.kind(*n) == "?") {
                ctx.push(
                    Op::QuestionMarkToUnwrap,
                    mark.start_byte(),
                    mark.end_byte(),
                    ".unwrap()".into(),
                    "replace `?` with `.unwrap()`".into(),
                );
            }
        }
        "match_expression" => match_arms(ctx, node),
        _ => {}
    }
}

/// `unsafe fn`, attributes and macro definitions are never mutated (test code is left out by
/// the walk).
fn skipped(ctx: &Ctx<'_>, v: &Visit<'_, '_>) -> bool {
    match v.kind {
        "attribute_item" | "inner_attribute_item" | "macro_definition" => true,
        "function_item" => {
            let mut cursor = v.node.walk();
            v.node
                .children(&mut cursor)
                .any(|n| ctx.kind(n) == "function_modifiers" && mentions(ctx.text_of(n), "unsafe"))
        }
        _ => false,
    }
}

/// `#[test]`, `#[tokio::test]`, `#[cfg(test)]`, `#[cfg(all(test, ...))]`, `#[mutants::skip]`.
fn is_test_attribute(attribute: &str) -> bool {
    let inner = attribute
        .trim_start_matches("#!")
        .trim_start_matches('#')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    inner == "test"
        || inner.ends_with("::test")
        || (inner.starts_with("cfg") && mentions(inner, "test"))
        || inner.contains("mutants::skip")
}

/// A statement the walk is in, with the node that holds it.
struct Statement<'t> {
    node: Node<'t>,
    parent: Option<(Node<'t>, &'static str)>,
}

/// The node to delete to remove the statement the visited node is: its `expression_statement`,
/// or the node itself when it ends a block without a semicolon. `None` when it is a value (a
/// `let`'s initialiser, an argument), which cannot simply disappear.
fn statement_of<'t>(v: &Visit<'t, '_>) -> Option<Statement<'t>> {
    let (parent, kind) = v.parent()?;
    match kind {
        "expression_statement" => Some(Statement { node: parent, parent: v.grandparent() }),
        "block" => Some(Statement { node: v.node, parent: Some((parent, kind)) }),
        _ => None,
    }
}

/// Whether the statement is the value of its block: its last statement, without a semicolon.
/// Removing or moving it would change the block's type, which never compiles.
fn is_block_value(ctx: &Ctx<'_>, statement: &Statement<'_>) -> bool {
    let Some((block, "block")) = statement.parent else { return false };
    ctx.code_children(block).last() == Some(&statement.node) && unterminated(ctx, statement.node)
}

/// Whether a block's last statement has no semicolon, making it the block's value.
fn unterminated(ctx: &Ctx<'_>, last: Node<'_>) -> bool {
    !ctx.text_of(last).trim_end().ends_with(';')
}

fn binary(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let (Some(op), Some(left), Some(right)) = (
        node.child_by_field_name("operator"),
        node.child_by_field_name("left"),
        node.child_by_field_name("right"),
    ) else {
        return;
    };
    let symbol = ctx.text_of(op);
    for (operator, to) in binary_replacements(symbol) {
        ctx.replace_token(*operator, op, to);
    }
    let is_let = |n: Node<'_>| n.kind().starts_with("let_");
    if swap_changes_meaning(symbol) && !is_let(left) && !is_let(right) {
        let what = format!("swap the operands of `{}`", snippet(ctx.text_of(node)));
        ctx.swap(Op::SwapOperands, left, right, what);
    }
}

fn compound(ctx: &mut Ctx<'_>, node: Node<'_>) {
    if let Some(op) = node.child_by_field_name("operator")
        && let Some((operator, to)) = compound_replacement(ctx.text_of(op))
    {
        ctx.replace_token(operator, op, to);
    }
}

fn unary(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let Some(op) = node.child(0) else { return };
    if !matches!(op.kind(), "!" | "-") {
        return;
    }
    let Some(operand) = node.named_child(0) else { return };
    let replacement = ctx.text_of(operand).to_string();
    ctx.push(
        Op::RemoveNegation,
        node.start_byte(),
        node.end_byte(),
        replacement,
        format!("delete `{}` before `{}`", op.kind(), snippet(ctx.text_of(operand))),
    );
}

fn constant(ctx: &mut Ctx<'_>, v: &Visit<'_, '_>) {
    // `pair.0` names a field, and a literal in a type (`[u8; 4]`) changes a type, not a value.
    let in_type =
        v.ancestors.iter().any(|(_, kind)| kind.ends_with("_type") || *kind == "type_arguments");
    if in_type || v.parent().is_some_and(|(_, kind)| kind == "field_expression") {
        return;
    }
    let node = v.node;
    let literal = ctx.text_of(node);
    for value in off_by_one(literal) {
        let what = format!("replace `{literal}` with `{value}`");
        ctx.push(Op::ConstantOffByOne, node.start_byte(), node.end_byte(), value, what);
    }
}

fn range(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let mut cursor = node.walk();
    let children: Vec<Node<'_>> = node.children(&mut cursor).collect();
    let Some(at) = children.iter().position(|n| matches!(n.kind(), ".." | "..=")) else { return };
    let has_end = children.len() > at + 1;
    let op = children[at];
    match op.kind() {
        ".." if has_end => ctx.replace_token(Op::BoundaryRange, op, "..="),
        "..=" => ctx.replace_token(Op::BoundaryRange, op, ".."),
        _ => {}
    }
}

fn arguments(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let Some(args) = node.child_by_field_name("arguments") else { return };
    let args = ctx.code_children(args);
    for pair in args.windows(2) {
        let what = format!(
            "swap arguments `{}` and `{}`",
            snippet(ctx.text_of(pair[0])),
            snippet(ctx.text_of(pair[1]))
        );
        ctx.swap(Op::SwapArguments, pair[0], pair[1], what);
    }
}

fn if_expression(ctx: &mut Ctx<'_>, v: &Visit<'_, '_>) {
    let node = v.node;
    let (Some(condition), Some(consequence)) =
        (node.child_by_field_name("condition"), node.child_by_field_name("consequence"))
    else {
        return;
    };
    let alternative = node.child_by_field_name("alternative");
    let is_else_if = v.parent().is_some_and(|(_, kind)| kind == "else_clause");
    let cond = snippet(ctx.text_of(condition));

    // Removal: only a statement can go, and an `else if` only with its whole chain.
    if !is_else_if && let Some(statement) = statement_of(v) {
        let target = statement.node;
        let tail_value = alternative.is_some() && is_block_value(ctx, &statement);
        if !tail_value {
            if alternative.is_none() && exits_early(ctx, consequence) {
                ctx.delete(Op::RemoveGuard, target, format!("delete the guard `if {cond}`"));
            } else {
                ctx.delete(
                    Op::RemoveConditional,
                    target,
                    format!("delete the conditional `if {cond}`"),
                );
            }
        }
    }

    // Inversion: swap plain if/else branches, or negate a lone `if`'s condition.
    match alternative {
        Some(clause) => {
            let else_block = ctx.code_children(clause).into_iter().find(|n| n.kind() == "block");
            if let Some(else_block) = else_block {
                ctx.swap(
                    Op::InvertIfElse,
                    consequence,
                    else_block,
                    format!("swap the branches of `if {cond}`"),
                );
            }
        }
        None => {
            let text = ctx.text_of(condition);
            let is_let = condition.kind().starts_with("let_") || text.starts_with("let ");
            if !is_let && !text.starts_with('!') {
                let replacement = format!("!({text})");
                ctx.push(
                    Op::InvertIfElse,
                    condition.start_byte(),
                    condition.end_byte(),
                    replacement,
                    format!("negate the condition `{cond}`"),
                );
            }
        }
    }
}

/// Whether a block ends by leaving the function or loop: `return`, `break`, `continue`, or a
/// panicking macro.
fn exits_early(ctx: &Ctx<'_>, block: Node<'_>) -> bool {
    let Some(last) = ctx.code_children(block).pop() else { return false };
    let last = if last.kind() == "expression_statement" {
        last.named_child(0).unwrap_or(last)
    } else {
        last
    };
    match last.kind() {
        "return_expression" | "break_expression" | "continue_expression" => true,
        "macro_invocation" => {
            let name = last.child_by_field_name("macro").map(|m| ctx.text_of(m)).unwrap_or("");
            matches!(name, "panic" | "bail" | "unreachable" | "todo" | "unimplemented")
        }
        _ => false,
    }
}

fn statement(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let Some(expr) = node.named_child(0) else { return };
    let code = snippet(ctx.text_of(expr));
    match expr.kind() {
        "assignment_expression" | "compound_assignment_expr" => {
            ctx.delete(Op::RemoveAssignment, node, format!("delete the assignment `{code}`"));
        }
        "call_expression" | "try_expression" | "await_expression" => {
            ctx.delete(Op::RemoveStatement, node, format!("delete the statement `{code}`"));
        }
        "macro_invocation" => {
            // Logging and printing rarely change what a test can observe; assertions do.
            let name = expr.child_by_field_name("macro").map(|m| ctx.text_of(m)).unwrap_or("");
            let quiet = [
                "print", "println", "eprint", "eprintln", "dbg", "trace", "debug", "info", "warn",
                "error", "log",
            ];
            if !quiet.contains(&name.rsplit("::").next().unwrap_or(name)) {
                ctx.delete(Op::RemoveStatement, node, format!("delete the statement `{code}`"));
            }
        }
        _ => {}
    }
}

/// Adjacent statements swapped, where the swap can compile and can change behaviour.
fn swap_statements(ctx: &mut Ctx<'_>, block: Node<'_>) {
    let children = ctx.code_children(block);
    let is_statement =
        |n: &Node<'_>| matches!(n.kind(), "expression_statement" | "let_declaration");
    let leaves = |n: &Node<'_>, ctx: &Ctx<'_>| {
        let text = ctx.text_of(*n);
        ["return", "break", "continue"].iter().any(|k| text.starts_with(k))
    };
    for (i, pair) in children.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        let skip = !is_statement(&a) || !is_statement(&b) || leaves(&a, ctx) || leaves(&b, ctx);
        let b_is_value = i + 2 == children.len() && unterminated(ctx, b);
        if skip || b_is_value {
            continue;
        }
        // Two `let`s swap to an equivalent program, and a use moved above its `let` does not
        // compile; neither makes a useful bug.
        if a.kind() == "let_declaration" {
            if b.kind() == "let_declaration" {
                continue;
            }
            let bound = a.child_by_field_name("pattern").map(|p| ctx.text_of(p)).unwrap_or("");
            let names = bound
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty() && *w != "mut");
            if names.clone().any(|name| mentions(ctx.text_of(b), name)) {
                continue;
            }
        }
        let what = format!("swap `{}` with the next statement", snippet(ctx.text_of(a)));
        ctx.swap(Op::SwapStatements, a, b, what);
    }
}

fn match_arms(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let Some(body) = node.child_by_field_name("body") else { return };
    let arms: Vec<Node<'_>> =
        ctx.code_children(body).into_iter().filter(|n| n.kind() == "match_arm").collect();
    let text = ctx.text;
    let is_wildcard = |arm: &Node<'_>| {
        arm.child_by_field_name("pattern").is_some_and(|p| text[p.byte_range()].trim() == "_")
    };
    if arms.len() < 2 || !arms.iter().any(is_wildcard) {
        return;
    }
    for arm in arms.iter().filter(|a| !is_wildcard(a)) {
        let pattern =
            arm.child_by_field_name("pattern").map(|p| snippet(ctx.text_of(p))).unwrap_or_default();
        ctx.delete(Op::DeleteMatchArm, *arm, format!("delete the match arm `{pattern}`"));
    }
}

/// cargo-mutants style: the body becomes one value of the declared return type.
fn fn_body(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let Some(body) = node.child_by_field_name("body") else { return };
    let values = match node.child_by_field_name("return_type") {
        None => vec!["()".to_string()],
        Some(ty) => values_of(ctx, ty, 0),
    };
    let indent = ctx.indent_at(node.start_byte());
    let inside = ctx.text_of(body).trim_start_matches('{').trim_end_matches('}').trim();
    for value in values {
        if inside == value || (value == "()" && inside.is_empty()) {
            continue;
        }
        let replacement = format!("{{\n{indent}    {value}\n{indent}}}");
        ctx.push(
            Op::ReplaceBodyWithDefault,
            body.start_byte(),
            body.end_byte(),
            replacement,
            format!("replace the body with `{value}`"),
        );
    }
}

/// Plausible values of a type, most typical first; empty when none is known to compile.
fn values_of(ctx: &Ctx<'_>, ty: Node<'_>, depth: usize) -> Vec<String> {
    if depth > 3 {
        return Vec::new();
    }
    let text = ctx.text_of(ty);
    let inner = |ctx: &Ctx<'_>, n: Node<'_>| values_of(ctx, n, depth + 1);
    match ty.kind() {
        "unit_type" => vec!["()".into()],
        "primitive_type" => match text {
            "bool" => vec!["true".into(), "false".into()],
            "f32" | "f64" => vec!["0.0".into(), "1.0".into(), "-1.0".into()],
            "char" => vec!["'\\0'".into(), "'x'".into()],
            "str" => Vec::new(),
            t if t.starts_with('i') => vec!["0".into(), "1".into(), "-1".into()],
            t if t.starts_with('u') => vec!["0".into(), "1".into()],
            _ => Vec::new(),
        },
        "type_identifier" | "scoped_type_identifier" => {
            let name = text.rsplit("::").next().unwrap_or(text);
            match name {
                "String" => vec!["String::new()".into(), "\"xyzzy\".into()".into()],
                // `fmt::Result` and `io::Result<()>`-style aliases without arguments.
                "Result" => vec!["Ok(())".into()],
                _ => vec!["Default::default()".into()],
            }
        }
        "generic_type" => {
            let base = ty.child_by_field_name("type").map(|b| ctx.text_of(b)).unwrap_or("");
            let name = base.rsplit("::").next().unwrap_or(base);
            let args: Vec<Node<'_>> = ty
                .child_by_field_name("type_arguments")
                .map(|args| {
                    ctx.code_children(args).into_iter().filter(|a| a.kind() != "lifetime").collect()
                })
                .unwrap_or_default();
            let first = args.first().map(|a| inner(ctx, *a)).unwrap_or_default();
            match name {
                "Option" => std::iter::once("None".to_string())
                    .chain(first.into_iter().map(|v| format!("Some({v})")))
                    .collect(),
                "Result" if first.is_empty() => vec!["Ok(Default::default())".into()],
                "Result" => first.into_iter().map(|v| format!("Ok({v})")).collect(),
                "Vec" => std::iter::once("vec![]".to_string())
                    .chain(first.into_iter().take(1).map(|v| format!("vec![{v}]")))
                    .collect(),
                "Box" | "Rc" | "Arc" => {
                    first.into_iter().map(|v| format!("{name}::new({v})")).collect()
                }
                _ => vec!["Default::default()".into()],
            }
        }
        "reference_type" => {
            let target = ty.child_by_field_name("type");
            let mutable = text.contains("mut ");
            match target {
                Some(t) if ctx.text_of(t) == "str" && !mutable => {
                    vec!["\"\"".into(), "\"xyzzy\"".into()]
                }
                Some(t) if t.kind() == "slice_type" && !mutable => vec!["&[]".into()],
                _ => Vec::new(),
            }
        }
        "tuple_type" => {
            let parts: Vec<Vec<String>> =
                ctx.code_children(ty).into_iter().map(|n| inner(ctx, n)).collect();
            if parts.iter().any(Vec::is_empty) {
                return Vec::new();
            }
            vec![format!(
                "({})",
                parts.iter().map(|p| p[0].as_str()).collect::<Vec<_>>().join(", ")
            )]
        }
        "abstract_type" if text.starts_with("impl Iterator") => vec!["::std::iter::empty()".into()],
        _ => Vec::new(),
    }
}

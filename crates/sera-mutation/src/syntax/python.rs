//! Python sites, on the tree-sitter-python grammar.
//!
//! Python blocks are delimited by indentation, so deleting the only statement of a block would
//! leave a syntax error: such a statement becomes `pass` instead.

use tree_sitter::Node;

use super::{
    ChainGrammar, Ctx, Visit, binary_replacements, break_chain, compound_replacement, off_by_one,
    preorder, snippet, swap_changes_meaning,
};
use crate::operators::Op;

/// Python's names for the parts of `x.a(..).b(..)`.
const CHAIN: ChainGrammar = ChainGrammar {
    call: "call",
    member: "attribute",
    member_object: "object",
    member_name: "attribute",
};

pub(super) fn walk(ctx: &mut Ctx<'_>, root: Node<'_>) {
    let kinds = ctx.kinds;
    preorder(root, kinds, |v| {
        let enter = ctx.wanted(v.node) && !skipped(ctx, v);
        if enter {
            visit(ctx, v);
        }
        enter
    });
}

fn visit(ctx: &mut Ctx<'_>, v: &Visit<'_, '_>) {
    let node = v.node;
    match v.kind {
        "function_definition" => fn_body(ctx, node),
        "binary_operator" | "boolean_operator" => binary(ctx, node),
        "comparison_operator" => comparison(ctx, node),
        "augmented_assignment" => {
            if let Some(op) = node.child_by_field_name("operator")
                && let Some((operator, to)) = compound_replacement(ctx.text_of(op))
            {
                ctx.replace_token(operator, op, to);
            }
        }
        "not_operator" => {
            if let Some(arg) = node.child_by_field_name("argument") {
                let what = format!("delete `not` before `{}`", snippet(ctx.text_of(arg)));
                ctx.push(
                    Op::RemoveNegation,
                    node.start_byte(),
                    node.end_byte(),
                    ctx.text_of(arg).to_string(),
                    what,
                );
            }
        }
        "unary_operator" => {
            let op = node.child_by_field_name("operator");
            if let (Some(op), Some(arg)) = (op, node.child_by_field_name("argument"))
                && ctx.kind(op) == "-"
            {
                let what = format!("delete `-` before `{}`", snippet(ctx.text_of(arg)));
                ctx.push(
                    Op::RemoveNegation,
                    node.start_byte(),
                    node.end_byte(),
                    ctx.text_of(arg).to_string(),
                    what,
                );
            }
        }
        "integer" => {
            let literal = ctx.text_of(node);
            for value in off_by_one(literal) {
                let what = format!("replace `{literal}` with `{value}`");
                ctx.push(Op::ConstantOffByOne, node.start_byte(), node.end_byte(), value, what);
            }
        }
        "call" => {
            break_chain(ctx, node, &CHAIN);
            arguments(ctx, node);
            range_stop(ctx, node);
        }
        "if_statement" => if_statement(ctx, v),
        "for_statement" | "while_statement" => {
            let keyword = v.kind.trim_end_matches("_statement");
            delete_statement(ctx, Op::RemoveLoop, v, format!("delete the `{keyword}` loop"));
        }
        "expression_statement" => statement(ctx, v),
        "block" => swap_statements(ctx, node),
        "try_statement" => unwrap_try(ctx, node),
        "raise_statement" => {
            let what = format!("replace `{}` with `pass`", snippet(ctx.text_of(node)));
            ctx.push(Op::RaiseToPass, node.start_byte(), node.end_byte(), "pass".into(), what);
        }
        _ => {}
    }
}

/// Tests (`test_*` functions, `Test*` classes, pytest fixtures) and decorators are never mutated.
fn skipped(ctx: &Ctx<'_>, v: &Visit<'_, '_>) -> bool {
    let node = v.node;
    let name = || node.child_by_field_name("name").map(|n| ctx.text_of(n)).unwrap_or("");
    match v.kind {
        "decorator" => true,
        "function_definition" => name().starts_with("test_"),
        "class_definition" => name().starts_with("Test"),
        "decorated_definition" => {
            let mut cursor = node.walk();
            let decorators: Vec<Node<'_>> =
                node.children(&mut cursor).filter(|n| ctx.kind(*n) == "decorator").collect();
            decorators.iter().any(|d| ctx.text_of(*d).contains("pytest"))
        }
        _ => false,
    }
}

/// Deletes the visited statement, or turns it into `pass` when it is alone in its block.
fn delete_statement(ctx: &mut Ctx<'_>, op: Op, v: &Visit<'_, '_>, what: String) {
    let (node, Some((parent, kind))) = (v.node, v.parent()) else { return };
    if kind == "block" && ctx.code_children(parent).len() == 1 {
        ctx.push(op, node.start_byte(), node.end_byte(), "pass".into(), what);
    } else if matches!(kind, "block" | "module") {
        ctx.delete(op, node, what);
    }
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
    if swap_changes_meaning(symbol) {
        let what = format!("swap the operands of `{}`", snippet(ctx.text_of(node)));
        ctx.swap(Op::SwapOperands, left, right, what);
    }
}

/// Comparisons may chain (`0 <= x <= 100`); each operator is its own site.
fn comparison(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let mut cursor = node.walk();
    let children: Vec<Node<'_>> =
        node.children(&mut cursor).filter(|n| !ctx.kind(*n).contains("comment")).collect();
    let operands: Vec<Node<'_>> = children.iter().copied().filter(|n| n.is_named()).collect();
    let operators: Vec<Node<'_>> = children.iter().copied().filter(|n| !n.is_named()).collect();
    for op in &operators {
        for (operator, to) in binary_replacements(op.kind()) {
            ctx.replace_token(*operator, *op, to);
        }
    }
    if let ([left, right], [op]) = (operands.as_slice(), operators.as_slice())
        && swap_changes_meaning(op.kind())
    {
        let what = format!("swap the operands of `{}`", snippet(ctx.text_of(node)));
        ctx.swap(Op::SwapOperands, *left, *right, what);
    }
}

fn positional_arguments<'t>(ctx: &Ctx<'_>, node: Node<'t>) -> Vec<Node<'t>> {
    let argument_list = |a: &Node<'_>| ctx.kind(*a) == "argument_list";
    let Some(args) = node.child_by_field_name("arguments").filter(argument_list) else {
        return Vec::new();
    };
    let args = ctx.code_children(args);
    let positional = |n: &Node<'_>| {
        !matches!(ctx.kind(*n), "keyword_argument" | "list_splat" | "dictionary_splat")
    };
    args.into_iter().take_while(positional).collect()
}

fn arguments(ctx: &mut Ctx<'_>, node: Node<'_>) {
    for pair in positional_arguments(ctx, node).windows(2) {
        let what = format!(
            "swap arguments `{}` and `{}`",
            snippet(ctx.text_of(pair[0])),
            snippet(ctx.text_of(pair[1]))
        );
        ctx.swap(Op::SwapArguments, pair[0], pair[1], what);
    }
}

/// `range(n)` becomes `range(n + 1)`, and `range(a, n - 1)` becomes `range(a, n)`.
fn range_stop(ctx: &mut Ctx<'_>, node: Node<'_>) {
    if node.child_by_field_name("function").map(|f| ctx.text_of(f)) != Some("range") {
        return;
    }
    let args = positional_arguments(ctx, node);
    let stop = match args.len() {
        1 => args[0],
        2 | 3 => args[1],
        _ => return,
    };
    let text = ctx.text_of(stop);
    let replacement =
        if let Some(base) = text.strip_suffix(" - 1").or_else(|| text.strip_suffix(" + 1")) {
            base.to_string()
        } else {
            format!("{text} + 1")
        };
    let what = format!("change the range bound `{}` to `{}`", snippet(text), snippet(&replacement));
    ctx.push(Op::BoundaryRange, stop.start_byte(), stop.end_byte(), replacement, what);
}

fn if_statement(ctx: &mut Ctx<'_>, v: &Visit<'_, '_>) {
    let node = v.node;
    let (Some(condition), Some(consequence)) =
        (node.child_by_field_name("condition"), node.child_by_field_name("consequence"))
    else {
        return;
    };
    let mut cursor = node.walk();
    let alternatives: Vec<Node<'_>> =
        node.children_by_field_name("alternative", &mut cursor).collect();
    let cond = snippet(ctx.text_of(condition));
    if alternatives.is_empty() && exits_early(ctx, consequence) {
        delete_statement(ctx, Op::RemoveGuard, v, format!("delete the guard `if {cond}`"));
    } else {
        delete_statement(
            ctx,
            Op::RemoveConditional,
            v,
            format!("delete the conditional `if {cond}`"),
        );
    }
    match alternatives.as_slice() {
        [] => {
            let text = ctx.text_of(condition);
            if !text.starts_with("not ") {
                let what = format!("negate the condition `{cond}`");
                ctx.push(
                    Op::InvertIfElse,
                    condition.start_byte(),
                    condition.end_byte(),
                    format!("not ({text})"),
                    what,
                );
            }
        }
        [clause] if clause.kind() == "else_clause" => {
            if let Some(body) = clause.child_by_field_name("body") {
                ctx.swap(
                    Op::InvertIfElse,
                    consequence,
                    body,
                    format!("swap the branches of `if {cond}`"),
                );
            }
        }
        _ => {}
    }
}

fn exits_early(ctx: &Ctx<'_>, block: Node<'_>) -> bool {
    ctx.code_children(block).last().is_some_and(|last| {
        matches!(
            last.kind(),
            "return_statement" | "raise_statement" | "continue_statement" | "break_statement"
        )
    })
}

fn statement(ctx: &mut Ctx<'_>, v: &Visit<'_, '_>) {
    let node = v.node;
    let Some(expr) = node.named_child(0) else { return };
    let code = snippet(ctx.text_of(expr));
    match expr.kind() {
        "assignment" | "augmented_assignment" => {
            // A bare annotation (`x: int`) assigns nothing.
            if expr.kind() == "assignment" && expr.child_by_field_name("right").is_none() {
                return;
            }
            delete_statement(
                ctx,
                Op::RemoveAssignment,
                v,
                format!("delete the assignment `{code}`"),
            );
        }
        "call" | "await" => {
            let callee = expr.child_by_field_name("function").map(|f| ctx.text_of(f)).unwrap_or("");
            if !matches!(
                callee,
                "print" | "logging.debug" | "logging.info" | "logger.debug" | "logger.info"
            ) {
                delete_statement(
                    ctx,
                    Op::RemoveStatement,
                    v,
                    format!("delete the statement `{code}`"),
                );
            }
        }
        _ => {}
    }
}

fn is_docstring(ctx: &Ctx<'_>, node: Node<'_>) -> bool {
    node.kind() == "expression_statement"
        && node.named_child(0).is_some_and(|n| n.kind() == "string")
        && !ctx.text_of(node).is_empty()
}

fn swap_statements(ctx: &mut Ctx<'_>, block: Node<'_>) {
    let children = ctx.code_children(block);
    let movable = |n: &Node<'_>| {
        !matches!(
            n.kind(),
            "return_statement"
                | "raise_statement"
                | "pass_statement"
                | "break_statement"
                | "continue_statement"
                | "function_definition"
                | "class_definition"
                | "decorated_definition"
                | "import_statement"
                | "import_from_statement"
                | "future_import_statement"
                | "global_statement"
                | "nonlocal_statement"
        )
    };
    for (i, pair) in children.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        if !movable(&a) || !movable(&b) || (i == 0 && is_docstring(ctx, a)) {
            continue;
        }
        let what = format!("swap `{}` with the next statement", snippet(ctx.text_of(a)));
        ctx.swap(Op::SwapStatements, a, b, what);
    }
}

/// The `try` statement replaced by its body (then its `else` and `finally` bodies), dedented to
/// the `try`'s own level.
fn unwrap_try(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let Some(body) = node.child_by_field_name("body") else { return };
    let indent = ctx.indent_at(node.start_byte());
    let mut cursor = node.walk();
    let mut blocks = vec![body];
    for clause in node.children(&mut cursor) {
        if matches!(clause.kind(), "else_clause" | "finally_clause") {
            let block = clause
                .child_by_field_name("body")
                .or_else(|| ctx.code_children(clause).into_iter().find(|n| n.kind() == "block"));
            blocks.extend(block);
        }
    }
    let mut replacement = String::new();
    for (i, block) in blocks.iter().enumerate() {
        if i > 0 {
            replacement.push('\n');
            replacement.push_str(indent);
        }
        replacement.push_str(&dedent(ctx, *block, indent.len()));
    }
    ctx.push(
        Op::UnwrapTryExcept,
        node.start_byte(),
        node.end_byte(),
        replacement,
        "replace the `try` statement with its body".into(),
    );
}

/// The block's text with every line after the first moved left to `to_column`.
fn dedent(ctx: &Ctx<'_>, block: Node<'_>, to_column: usize) -> String {
    let text = ctx.text_of(block);
    let from_column = block.start_position().column;
    let delta = from_column.saturating_sub(to_column);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            let strip = line.bytes().take(delta).take_while(|b| *b == b' ' || *b == b'\t').count();
            out.push_str(&line[strip..]);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The body becomes `return <value>`, the value guessed from the annotation and from what the
/// function returns today; a docstring stays.
fn fn_body(ctx: &mut Ctx<'_>, node: Node<'_>) {
    let Some(body) = node.child_by_field_name("body") else { return };
    let statements = ctx.code_children(body);
    let first = match statements.first() {
        Some(first) if is_docstring(ctx, *first) => statements.get(1),
        first => first,
    };
    let Some(first) = first else { return };

    let mut returned: Vec<Node<'_>> = Vec::new();
    let mut stack = vec![body];
    while let Some(n) = stack.pop() {
        match n.kind() {
            // A generator's body cannot become a plain `return`.
            "yield" => return,
            "function_definition" | "class_definition" | "lambda" => continue,
            "return_statement" => returned.extend(n.named_child(0)),
            _ => {}
        }
        let mut cursor = n.walk();
        stack.extend(n.named_children(&mut cursor));
    }

    let mut values: Vec<&str> = Vec::new();
    if let Some(annotation) = node.child_by_field_name("return_type") {
        values.extend(values_of_annotation(ctx.text_of(annotation)));
    }
    for expr in &returned {
        values.extend(values_of_expression(ctx, *expr));
    }
    values.push("None");
    let mut seen = Vec::new();
    for value in values {
        if seen.contains(&value) {
            continue;
        }
        seen.push(value);
        let current = ctx.text[first.start_byte()..body.end_byte()].trim();
        let replacement = format!("return {value}");
        if current == replacement {
            continue;
        }
        ctx.push(
            Op::ReplaceBodyWithDefault,
            first.start_byte(),
            body.end_byte(),
            replacement,
            format!("replace the body with `return {value}`"),
        );
    }
}

fn values_of_annotation(annotation: &str) -> Vec<&'static str> {
    let base = annotation.split(['[', '|']).next().unwrap_or("").trim();
    match base {
        "int" => vec!["0", "1"],
        "float" => vec!["0.0", "1.0"],
        "str" => vec!["\"\"", "\"xyzzy\""],
        "bool" => vec!["True", "False"],
        "list" | "List" | "Sequence" | "Iterable" => vec!["[]"],
        "dict" | "Dict" | "Mapping" => vec!["{}"],
        "set" | "Set" | "frozenset" => vec!["set()"],
        "bytes" => vec!["b\"\""],
        _ => Vec::new(),
    }
}

fn values_of_expression(ctx: &Ctx<'_>, expr: Node<'_>) -> Vec<&'static str> {
    match expr.kind() {
        "integer" | "unary_operator" => vec!["0", "1"],
        "float" => vec!["0.0", "1.0"],
        "binary_operator" => {
            let op = expr.child_by_field_name("operator").map(|o| o.kind()).unwrap_or("");
            let is_string =
                |side: &str| expr.child_by_field_name(side).is_some_and(|n| n.kind() == "string");
            if op == "+" && (is_string("left") || is_string("right")) {
                vec!["\"\""]
            } else {
                vec!["0", "1"]
            }
        }
        "string" | "concatenated_string" => vec!["\"\"", "\"xyzzy\""],
        "list" | "list_comprehension" => vec!["[]"],
        "dictionary" | "dictionary_comprehension" => vec!["{}"],
        "set" | "set_comprehension" => vec!["set()"],
        "true" | "false" | "comparison_operator" | "not_operator" => vec!["True", "False"],
        "call" => {
            let callee = expr.child_by_field_name("function").map(|f| ctx.text_of(f)).unwrap_or("");
            match callee {
                "len" | "sum" | "int" | "abs" | "round" | "min" | "max" => vec!["0", "1"],
                "sorted" | "list" => vec!["[]"],
                "str" | "repr" => vec!["\"\""],
                "dict" => vec!["{}"],
                "set" => vec!["set()"],
                "bool" | "isinstance" | "all" | "any" => vec!["True", "False"],
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

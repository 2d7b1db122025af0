//! The operator catalogue: what each operator does, where it applies, how often it is drawn and
//! which bug classes its mutants belong to (the mapping of `docs/reference/taxonomy.md`).

use sera_core::Language;

/// One mutation operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Operator {
    /// Kebab-case name used in records and on the command line.
    pub slug: &'static str,
    /// The languages it has an implementation for.
    pub languages: &'static [Language],
    /// Relative sampling weight of each of its candidates. Operators that find many candidates
    /// in ordinary code (constants, argument swaps) weigh less so that a sample stays varied.
    pub weight: f64,
    /// Bug-class slugs its mutants are tagged with; the first is the most typical.
    pub classes: &'static [&'static str],
    /// One line for `--help` and the README.
    pub about: &'static str,
}

const BOTH: &[Language] = &[Language::Rust, Language::Python];
const RUST: &[Language] = &[Language::Rust];
const PYTHON: &[Language] = &[Language::Python];

// Class slugs by their reference index, so the mapping below reads like the reference's list.
const C3: &str = "error-handling-and-exception-management";
const C4: &str = "state-management-and-data-consistency";
const C7: &str = "api-contracts-and-interface-compatibility";
const C10: &str = "control-flow-and-logic-correctness";
const C13: &str = "boundary-conditions-and-edge-case-handling";
const C19: &str = "correctness-and-business-logic-implementation";
const C20: &str = "robustness-and-failure-recovery";
const C25: &str = "completeness-and-missing-functionality";
const C27: &str = "assumptions-and-precondition-validation";
const C28: &str = "side-effects-and-function-purity";
const C31: &str = "ordering-and-initialization-sequence";
const C32: &str = "correctness-and-algorithmic-implementation";
const C33: &str = "behavior-and-output-correctness";
const C45: &str = "composability-and-function-interaction";
const C48: &str = "null-safety-and-optional-value-handling";

/// Operators as an enum, in catalogue order; `Op as usize` indexes [`OPERATORS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Op {
    FlipComparison,
    BoundaryComparison,
    ChangeComparison,
    FlipArith,
    ChangeArith,
    FlipLogical,
    ChangeBitwise,
    RemoveNegation,
    SwapOperands,
    BreakChain,
    ConstantOffByOne,
    BoundaryRange,
    RemoveLoop,
    RemoveGuard,
    RemoveConditional,
    RemoveAssignment,
    RemoveStatement,
    InvertIfElse,
    SwapStatements,
    QuestionMarkToUnwrap,
    UnwrapTryExcept,
    RaiseToPass,
    ReplaceBodyWithDefault,
    SwapArguments,
    DeleteMatchArm,
}

/// Every operator, in the order that breaks ties: when two operators produce the same change,
/// the mutant is kept once, under the operator listed first.
pub const OPERATORS: &[Operator] = &[
    Operator {
        slug: "flip-comparison",
        languages: BOTH,
        weight: 1.0,
        classes: &[C10, C19, C32, C33],
        about: "reverse a comparison: `==`/`!=`, `<`/`>`, `<=`/`>=`, `is`/`is not`, `in`/`not in`",
    },
    Operator {
        slug: "boundary-comparison",
        languages: BOTH,
        weight: 1.0,
        classes: &[C13, C10, C32],
        about: "move a comparison's boundary: `<`/`<=`, `>`/`>=`",
    },
    Operator {
        slug: "change-comparison",
        languages: BOTH,
        weight: 0.5,
        classes: &[C10, C19, C32, C33],
        about: "replace a comparison with its negation or with `==`",
    },
    Operator {
        slug: "flip-arith",
        languages: BOTH,
        weight: 1.0,
        classes: &[C32, C19, C10, C33],
        about: "swap `+`/`-` and `*`/`/` (also in compound assignments like `+=`)",
    },
    Operator {
        slug: "change-arith",
        languages: BOTH,
        weight: 0.5,
        classes: &[C32, C19, C33],
        about: "replace an arithmetic operator with another of its family (`+` to `*`, `/` to `%`)",
    },
    Operator {
        slug: "flip-logical",
        languages: BOTH,
        weight: 1.0,
        classes: &[C10, C19, C33],
        about: "swap `&&`/`||` (`and`/`or`)",
    },
    Operator {
        slug: "change-bitwise",
        languages: BOTH,
        weight: 0.5,
        classes: &[C32, C10, C33],
        about: "swap bitwise operators: `&`/`|`, `^` to `&`, `<<`/`>>`",
    },
    Operator {
        slug: "remove-negation",
        languages: BOTH,
        weight: 0.7,
        classes: &[C10, C19, C33],
        about: "delete a unary `!`, `not` or `-`",
    },
    Operator {
        slug: "swap-operands",
        languages: BOTH,
        weight: 0.7,
        classes: &[C32, C10, C19, C33],
        about: "swap the operands of a non-commutative or short-circuiting binary operator",
    },
    Operator {
        slug: "break-chain",
        languages: BOTH,
        weight: 0.7,
        classes: &[C33, C10, C19, C32],
        about: "drop one method call from the middle of a call chain (`a.b().c()` to `a.c()`)",
    },
    Operator {
        slug: "constant-off-by-one",
        languages: BOTH,
        weight: 0.5,
        classes: &[C13, C32, C19, C33],
        about: "add or subtract one from an integer literal",
    },
    Operator {
        slug: "boundary-range",
        languages: BOTH,
        weight: 1.0,
        classes: &[C13, C32],
        about: "make a range inclusive or exclusive (`..`/`..=`; Python `range(n)` to `range(n + 1)`)",
    },
    Operator {
        slug: "remove-loop",
        languages: BOTH,
        weight: 0.7,
        classes: &[C25, C10, C32],
        about: "delete a `for`, `while` or `loop` statement",
    },
    Operator {
        slug: "remove-guard",
        languages: BOTH,
        weight: 1.0,
        classes: &[C27, C13, C48],
        about: "delete an early-exit guard (`if ... { return ... }`, `if x is None: raise ...`)",
    },
    Operator {
        slug: "remove-conditional",
        languages: BOTH,
        weight: 0.7,
        classes: &[C10, C13, C27],
        about: "delete an `if` statement that is not an early-exit guard",
    },
    Operator {
        slug: "remove-assignment",
        languages: BOTH,
        weight: 1.0,
        classes: &[C4, C31, C25],
        about: "delete an assignment or compound assignment statement",
    },
    Operator {
        slug: "remove-statement",
        languages: BOTH,
        weight: 0.7,
        classes: &[C4, C25, C28],
        about: "delete a call statement (a call made for its side effect)",
    },
    Operator {
        slug: "invert-if-else",
        languages: BOTH,
        weight: 1.0,
        classes: &[C10, C19],
        about: "swap the branches of an if/else, or negate the condition of an `if` without `else`",
    },
    Operator {
        slug: "swap-statements",
        languages: BOTH,
        weight: 0.7,
        classes: &[C31, C4],
        about: "swap two adjacent statements",
    },
    Operator {
        slug: "question-mark-to-unwrap",
        languages: RUST,
        weight: 0.7,
        classes: &[C3, C20],
        about: "replace error propagation `?` with `.unwrap()`",
    },
    Operator {
        slug: "unwrap-try-except",
        languages: PYTHON,
        weight: 1.0,
        classes: &[C3, C20],
        about: "replace a `try` statement by its body, dropping its handlers",
    },
    Operator {
        slug: "raise-to-pass",
        languages: PYTHON,
        weight: 1.0,
        classes: &[C3, C20, C27],
        about: "replace a `raise` statement with `pass`",
    },
    Operator {
        slug: "replace-body-with-default",
        languages: BOTH,
        weight: 1.0,
        classes: &[C25, C33],
        about: "replace a function body with a value of its return type (`0`, `None`, `vec![]`, ...)",
    },
    Operator {
        slug: "swap-arguments",
        languages: BOTH,
        weight: 0.5,
        classes: &[C7, C45],
        about: "swap two adjacent positional arguments of a call",
    },
    Operator {
        slug: "delete-match-arm",
        languages: RUST,
        weight: 1.0,
        classes: &[C10, C25, C13],
        about: "delete a `match` arm when a wildcard arm `_` would catch its values",
    },
];

/// The operator with this slug.
pub fn operator(slug: &str) -> Option<&'static Operator> {
    OPERATORS.iter().find(|op| op.slug == slug)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_has_known_classes_and_a_positive_weight() {
        let registry = sera_taxonomy::Registry::builtin();
        for op in OPERATORS {
            assert!(!op.classes.is_empty(), "{} has no class", op.slug);
            for class in op.classes {
                assert!(registry.get(class).is_some(), "{}: unknown class {class}", op.slug);
            }
            assert!(op.weight > 0.0, "{}", op.slug);
        }
    }

    #[test]
    fn enum_order_matches_the_catalogue() {
        assert_eq!(Op::DeleteMatchArm as usize + 1, OPERATORS.len());
        assert_eq!(OPERATORS[Op::QuestionMarkToUnwrap as usize].slug, "question-mark-to-unwrap");
        assert_eq!(
            OPERATORS[Op::ReplaceBodyWithDefault as usize].slug,
            "replace-body-with-default"
        );
    }
}

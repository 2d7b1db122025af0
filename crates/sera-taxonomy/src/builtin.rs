//! The 51 built-in bug classes: slugs and areas as in `docs/reference/taxonomy.md`, texts
//! written for sera-rs.
//!
//! Each row holds the hand-written parts of a class; [`crate::Registry::builtin`] turns them into
//! [`crate::BugClass`] values, building every prompt from one shape (see [`prompt_text`]) so that
//! all 51 prompts name the area, the start function and its file, say that calling the function
//! misbehaves in that area, list the area's typical symptoms and point at callers and callees.

/// The hand-written parts of one built-in class; its index is its position in [`BUILTIN`].
pub(crate) struct Row {
    pub slug: &'static str,
    /// The area as the reference names it.
    pub area: &'static str,
    pub description: &'static str,
    /// A few typical symptoms, as one comma-separated phrase that completes "for example, ...".
    pub symptoms: &'static str,
}

/// The prompt of one class, with `{{function}}` and `{{file}}` left for rendering.
pub(crate) fn prompt_text(index: usize, row: &Row) -> String {
    // Class 0 is the generic one: its "area" is correctness as a whole, which reads badly when
    // pasted into the shared sentence, so it gets its own wording of the same shape.
    let area = if index == 0 { "general correctness" } else { row.area };
    let mut text = String::new();
    text.push_str("There is a problem with ");
    text.push_str(area);
    text.push_str(" around `{{function}}` in `{{file}}`. When `{{function}}` is called, it does ");
    text.push_str("not behave as expected where ");
    text.push_str(area);
    text.push_str(" is concerned. Typical symptoms of this kind of problem are, for example, ");
    text.push_str(row.symptoms);
    text.push_str(
        ". The cause may be in `{{function}}` itself, or in a function that calls it or ",
    );
    text.push_str("that it calls. Investigate, find the root cause and fix it.");
    text
}

pub(crate) const BUILTIN: &[Row] = &[
    Row {
        slug: "possible-bug",
        area: "possible bug (generic)",
        description: "A catch-all class for a defect that has not been narrowed down to any \
            particular area. It leaves the widest room for interpretation: the change may touch \
            logic, data handling, error paths or anything else that makes the function wrong.",
        symptoms: "wrong return values for some inputs, unexpected exceptions or panics, or \
            results that differ from what the function's name and documentation promise",
    },
    Row {
        slug: "resource-cleanup-and-lifecycle-management",
        area: "resource cleanup and lifecycle management",
        description: "Resources such as files, sockets, locks, temporary directories or handles \
            that are acquired but not released, released twice, or released at the wrong time. \
            The defect usually lives on an early-return or error path that skips the cleanup.",
        symptoms: "file handles or connections that stay open, locks that are never released, \
            temporary files left behind, or failures that only show up after many calls",
    },
    Row {
        slug: "data-validation-and-type-safety",
        area: "data validation and type safety",
        description: "Values that are accepted without checking their type, range or shape, or \
            conversions that silently lose information. The function trusts its input more than \
            it should, and bad values travel further before anything notices.",
        symptoms: "out-of-range numbers being accepted, strings where numbers are expected, \
            truncated or wrapped integers after a conversion, or confusing errors far from the \
            real cause",
    },
    Row {
        slug: "error-handling-and-exception-management",
        area: "error handling and exception management",
        description: "Errors that are swallowed, converted into the wrong kind, reported with \
            misleading messages or allowed to crash the program. The happy path works while the \
            failure paths do not do what callers rely on.",
        symptoms: "exceptions or panics where an error value was expected, errors that \
            disappear silently, the wrong error type or message, or partial work left behind \
            after a failure",
    },
    Row {
        slug: "state-management-and-data-consistency",
        area: "state management and data consistency",
        description: "Internal state that is updated incompletely, in the wrong order or not at \
            all, so that different parts of an object or data structure disagree with each \
            other after an operation.",
        symptoms: "counters or totals that drift from the data they summarise, stale cached \
            values, fields that are not updated together, or history that does not match the \
            current state",
    },
    Row {
        slug: "configuration-and-initialization-logic",
        area: "configuration and initialization logic",
        description: "Objects or modules that start life with wrong defaults, ignore a setting, \
            or read configuration in a way that does not match what is documented.",
        symptoms: "default values that differ from the documentation, options that have no \
            effect, fields left uninitialised or zeroed, or behaviour that depends on the order \
            of setup calls",
    },
    Row {
        slug: "concurrency-and-thread-safety",
        area: "concurrency and thread safety",
        description: "Shared data accessed from several threads or tasks without the \
            synchronisation it needs, or locks taken in an order that can deadlock.",
        symptoms: "results that change from run to run, lost updates under load, deadlocks or \
            hangs, or data races reported by sanitizers",
    },
    Row {
        slug: "api-contracts-and-interface-compatibility",
        area: "API contracts and interface compatibility",
        description: "A function that no longer honours what its signature, documentation or \
            callers expect: arguments in the wrong order, changed units, or a return value with \
            a different meaning.",
        symptoms: "callers receiving values in an unexpected form, arguments interpreted in the \
            wrong order, documented guarantees that no longer hold, or breakage in code that \
            uses the function as documented",
    },
    Row {
        slug: "performance-and-efficiency",
        area: "performance and efficiency",
        description: "Code that computes the right answer far more slowly or with far more \
            memory than it needs to, for example by repeating work or choosing a poor data \
            structure.",
        symptoms: "quadratic behaviour on large inputs, repeated computation of the same value, \
            needless copies of large data, or time-outs in tests that handle bigger inputs",
    },
    Row {
        slug: "dependency-management-and-module-coupling",
        area: "dependency management and module coupling",
        description: "Modules that reach into each other's internals or depend on each other in \
            ways that make a change in one silently break the other.",
        symptoms: "a change in one module breaking an unrelated one, hidden reliance on another \
            module's private details, circular imports, or functions that only work when called \
            after some unrelated setup",
    },
    Row {
        slug: "control-flow-and-logic-correctness",
        area: "control flow and logic correctness",
        description: "Conditions, branches and loops that take the wrong path: an inverted test, \
            a wrong operator, a missing branch or a loop that stops too early or too late.",
        symptoms: "the wrong branch being taken for some inputs, loops that skip or repeat \
            elements, conditions that are always true or always false, or early exits that \
            happen at the wrong time",
    },
    Row {
        slug: "data-transformation-and-processing-logic",
        area: "data transformation and processing logic",
        description: "A computation that maps, filters, aggregates or reshapes data incorrectly, \
            so that its output has the right form but the wrong content.",
        symptoms: "missing or duplicated items in the output, values mapped to the wrong keys, \
            aggregates such as sums or averages that are off, or items in the wrong order",
    },
    Row {
        slug: "asynchronous-operations-and-callback-handling",
        area: "asynchronous operations and callback handling",
        description: "Asynchronous work that is not awaited, callbacks that fire too often or \
            not at all, or results that arrive after the code that needed them has moved on.",
        symptoms: "futures or coroutines that are never awaited, callbacks invoked twice or \
            never, results used before they are ready, or errors in background tasks that go \
            unnoticed",
    },
    Row {
        slug: "boundary-conditions-and-edge-case-handling",
        area: "boundary conditions and edge case handling",
        description: "Code that works for typical inputs but fails at the edges: empty \
            collections, zero, the first or last element, the maximum value, or inclusive versus \
            exclusive bounds.",
        symptoms: "off-by-one errors, failures on empty input, wrong results exactly at a limit, \
            or index errors on the first or last element",
    },
    Row {
        slug: "maintainability-and-documentation",
        area: "code maintainability and documentation",
        description: "Code whose documentation, comments or structure no longer match what it \
            does, making it easy for the next change to introduce a defect.",
        symptoms: "docstrings or comments that describe different behaviour than the code, \
            misleading names, tangled logic that hides a special case, or examples in the \
            documentation that no longer work",
    },
    Row {
        slug: "security-and-input-sanitization",
        area: "security and input sanitization",
        description: "Untrusted input that reaches a sensitive operation without being checked \
            or escaped, or checks that can be bypassed.",
        symptoms: "paths that escape their intended directory, unescaped values in generated \
            text or queries, limits that can be bypassed, or secrets that end up in logs or \
            error messages",
    },
    Row {
        slug: "modularity-and-reusability",
        area: "code modularity and reusability",
        description: "Logic that is tied to one caller's assumptions so that reusing it \
            elsewhere gives wrong results, or shared helpers that behave differently from the \
            copies they replaced.",
        symptoms: "a helper that only works for its first caller, hard-coded values that should \
            come from parameters, duplicated logic that has drifted apart, or functions doing \
            several unrelated things",
    },
    Row {
        slug: "testing-and-observability",
        area: "testing and observability",
        description: "Behaviour that cannot be observed or checked: missing or misleading log \
            output, status values that do not reflect what happened, or code paths that tests \
            cannot reach.",
        symptoms: "status or summary values that do not match what happened, log messages with \
            wrong details, metrics that are never updated, or results that are hard to verify \
            from the outside",
    },
    Row {
        slug: "compatibility-and-platform-specific-behavior",
        area: "compatibility and platform-specific behavior",
        description: "Code that assumes one platform, locale, encoding or version and breaks on \
            another.",
        symptoms: "path separators handled for one operating system only, line endings or \
            encodings mishandled, behaviour that depends on the locale or time zone, or use of \
            features missing in a supported version",
    },
    Row {
        slug: "correctness-and-business-logic-implementation",
        area: "code correctness and business logic implementation",
        description: "The rules the code is meant to implement (prices, permissions, limits, \
            accounting) are applied wrongly even though the code runs without errors.",
        symptoms: "wrong amounts or totals, rules applied to the wrong cases, limits enforced \
            too strictly or not at all, or outcomes that contradict the documented rules",
    },
    Row {
        slug: "robustness-and-failure-recovery",
        area: "code robustness and failure recovery",
        description: "Code that falls over on unexpected but legitimate situations, or that \
            cannot recover to a usable state after a failure.",
        symptoms: "crashes on unusual but valid input, objects left unusable after an error, \
            retries that never happen or never stop, or one failure cascading into many",
    },
    Row {
        slug: "scalability-and-extensibility",
        area: "code scalability and extensibility",
        description: "Code that works for the cases it was written for but breaks when the data \
            grows or when a new variant is added.",
        symptoms: "fixed-size limits that are silently exceeded, new variants falling into the \
            wrong default case, behaviour that degrades sharply with size, or hard-coded lists \
            that miss new entries",
    },
    Row {
        slug: "consistency-and-convention-adherence",
        area: "code consistency and convention adherence",
        description: "Code that breaks the conventions the rest of the code base follows, so \
            that callers relying on those conventions are surprised.",
        symptoms: "a function returning a different kind of value than its siblings, \
            inconsistent units or ordering, errors reported in a different style, or naming \
            that suggests other behaviour",
    },
    Row {
        slug: "clarity-and-complexity-management",
        area: "code clarity and complexity management",
        description: "Logic so convoluted that a mistake hides inside it: deeply nested \
            conditions, duplicated special cases, or state threaded through in confusing ways.",
        symptoms: "special cases handled in one branch but not in another, conditions that \
            contradict each other, variables reused for different purposes, or results that are \
            hard to predict from reading the code",
    },
    Row {
        slug: "integration-and-component-interaction",
        area: "code integration and component interaction",
        description: "Components that each work alone but disagree when combined: data passed \
            in the wrong form, calls made in the wrong order, or results misread by the caller.",
        symptoms: "values passed between components in the wrong format or units, calls made \
            in an order the callee does not expect, return values misinterpreted, or failures \
            only when components are used together",
    },
    Row {
        slug: "completeness-and-missing-functionality",
        area: "code completeness and missing functionality",
        description: "A function that does only part of its job: a case that is not handled, a \
            step that was left out, or a result that is returned before it is complete.",
        symptoms: "inputs that are silently ignored, default or placeholder values returned \
            instead of real results, documented features that do nothing, or steps of a \
            process that never happen",
    },
    Row {
        slug: "reliability-and-deterministic-behavior",
        area: "code reliability and deterministic behavior",
        description: "Results that depend on things they should not: iteration order of a hash \
            map, timing, uninitialised values or the state left by a previous call.",
        symptoms: "output that changes between runs with the same input, tests that fail \
            intermittently, results that depend on call order, or ordering that differs across \
            machines",
    },
    Row {
        slug: "assumptions-and-precondition-validation",
        area: "code assumptions and precondition validation",
        description: "A function that relies on something being true of its inputs or \
            environment without checking it, or whose checks no longer guard what they should.",
        symptoms: "missing checks for empty, zero or negative inputs, failures deep inside the \
            function instead of a clear error at its start, guards that let invalid values \
            through, or assumptions that hold only for the common case",
    },
    Row {
        slug: "side-effects-and-function-purity",
        area: "code side effects and function purity",
        description: "A function that changes more than it should (its arguments, global state, \
            shared collections) or fails to make a change that callers expect.",
        symptoms: "arguments modified in place unexpectedly, shared defaults mutated between \
            calls, expected updates that never happen, or a query function that changes state",
    },
    Row {
        slug: "abstraction-and-interface-design",
        area: "code abstraction and interface design",
        description: "An interface that leaks its implementation or hides something callers \
            need, so that using it correctly is harder than it should be.",
        symptoms: "callers needing to know internal details to get correct results, methods \
            that only work in a particular order, return values that expose internal state, or \
            overridden methods that break the base contract",
    },
    Row {
        slug: "duplication-and-redundancy",
        area: "code duplication and redundancy",
        description: "The same logic written in several places, where one copy has been fixed \
            or changed and another has not, or work that is done twice.",
        symptoms: "two code paths giving different answers to the same question, a fix that \
            only applies in one place, values computed twice with different results, or \
            repeated side effects",
    },
    Row {
        slug: "ordering-and-initialization-sequence",
        area: "code ordering and initialization sequence",
        description: "Steps performed in the wrong order: a value used before it is set, state \
            recorded before the operation succeeds, or cleanup before the last use.",
        symptoms: "values read before they are assigned, records written before a check fails, \
            results computed from stale data, or behaviour that changes when two statements \
            swap places",
    },
    Row {
        slug: "correctness-and-algorithmic-implementation",
        area: "code correctness and algorithmic implementation",
        description: "An algorithm implemented with a subtle mistake: a wrong operator, a wrong \
            index, a misplaced update or a termination condition that is slightly off.",
        symptoms: "results that are close to but not exactly right, failures on particular \
            input sizes, loops that terminate too early or too late, or arithmetic with the \
            wrong operator",
    },
    Row {
        slug: "behavior-and-output-correctness",
        area: "code behavior and output correctness",
        description: "A function whose observable output is wrong: the returned value, the \
            printed text or the written data does not match what is expected.",
        symptoms: "wrong return values, incorrectly formatted output, missing or extra items in \
            results, or values that are constant where they should vary",
    },
    Row {
        slug: "coupling-and-dependency-relationships",
        area: "code coupling and dependency relationships",
        description: "Functions or types that depend on each other more tightly than they \
            should, so that a change to one changes the behaviour of the other.",
        symptoms: "behaviour that changes when an apparently unrelated function changes, \
            hidden dependence on shared state, callers that break when a callee's internals \
            change, or results that depend on which module was used first",
    },
    Row {
        slug: "naming-and-semantic-clarity",
        area: "code naming and semantic clarity",
        description: "Names that say something different from what the code does, so that a \
            caller or a later change uses a value or function for the wrong purpose.",
        symptoms: "a function whose name promises different behaviour, variables whose names \
            do not match their contents, swapped parameters with similar names, or flags whose \
            meaning is inverted",
    },
    Row {
        slug: "readability-and-maintainability",
        area: "code readability and maintainability",
        description: "Code that is hard to read and therefore hides a mistake: long \
            expressions, unclear control flow, or structure that obscures what is computed.",
        symptoms: "expressions that compute something other than what they appear to, dead or \
            unreachable branches, logic that is hard to follow and subtly wrong, or comments \
            that contradict the code",
    },
    Row {
        slug: "testability-and-design-for-testing",
        area: "code testability and design for testing",
        description: "Code whose structure makes its behaviour hard to pin down in a test, and \
            which has drifted from what its tests and callers expect.",
        symptoms: "results that depend on hidden global state, behaviour that cannot be \
            controlled from the arguments, outputs that tests cannot observe, or functions that \
            behave differently when called in isolation",
    },
    Row {
        slug: "backwards-compatibility-and-version-migration",
        area: "code backwards compatibility and version migration",
        description: "A change that breaks callers or data written by an earlier version: \
            renamed fields, changed defaults or a different format.",
        symptoms: "data written earlier no longer being read correctly, changed default values, \
            removed or renamed options, or old call patterns that now fail or behave \
            differently",
    },
    Row {
        slug: "invariants-and-postcondition-guarantees",
        area: "code invariants and postcondition guarantees",
        description: "A function that leaves its data in a state that breaks a property the \
            rest of the code relies on, such as sortedness, non-negativity or matching totals.",
        symptoms: "collections that are no longer sorted or unique, balances or counts that go \
            negative, totals that no longer add up, or objects left half-updated",
    },
    Row {
        slug: "ownership-and-responsibility-distribution",
        area: "code ownership and responsibility distribution",
        description: "A responsibility that no function takes on, or that two functions both \
            take on, because it is unclear which layer should do it.",
        symptoms: "checks that each caller assumes another one made, work done twice by caller \
            and callee, cleanup that nobody performs, or the wrong component deciding an \
            outcome",
    },
    Row {
        slug: "flexibility-and-parameterization",
        area: "code flexibility and parameterization",
        description: "Parameters that are ignored, hard-coded values where a parameter was \
            meant to be used, or defaults that override what the caller asked for.",
        symptoms: "arguments that have no effect, results that ignore an option, a fixed \
            constant used instead of a parameter, or defaults applied even when a value is given",
    },
    Row {
        slug: "transaction-and-atomicity-guarantees",
        area: "code transaction and atomicity guarantees",
        description: "An operation meant to happen completely or not at all that can stop \
            half-way, leaving part of its changes applied.",
        symptoms: "partial updates after a failure, one side of a transfer applied without the \
            other, changes that are not rolled back on error, or records written before \
            validation finishes",
    },
    Row {
        slug: "efficiency-and-resource-utilization",
        area: "code efficiency and resource utilization",
        description: "Code that uses more memory, time, disk or connections than the job needs, \
            often by doing work that is immediately thrown away.",
        symptoms: "memory use that grows with every call, repeated reads of the same data, \
            work done for results that are discarded, or buffers that are far larger than needed",
    },
    Row {
        slug: "context-and-environment-awareness",
        area: "code context and environment awareness",
        description: "Code that ignores the context it runs in: the current directory, \
            environment variables, the caller's settings or the state of the system.",
        symptoms: "paths resolved against the wrong directory, settings from the environment \
            being ignored, behaviour that differs between callers for no reason, or assumptions \
            about state that another part of the program has changed",
    },
    Row {
        slug: "composability-and-function-interaction",
        area: "code composability and function interaction",
        description: "Functions that work alone but give wrong results when combined: \
            arguments passed in the wrong order, results fed back in the wrong form, or calls \
            that interfere with each other.",
        symptoms: "arguments swapped between calls, results of one function misused by the \
            next, calls that undo each other's work, or pipelines that lose information between \
            steps",
    },
    Row {
        slug: "lifecycle-and-temporal-behavior",
        area: "code lifecycle and temporal behavior",
        description: "Behaviour that goes wrong over time or across the stages of an object's \
            life: before it is set up, after it is closed, or after many operations.",
        symptoms: "objects usable after they were closed, operations allowed before \
            initialisation, state that decays after repeated use, or time-dependent logic that \
            uses the wrong moment",
    },
    Row {
        slug: "idempotency-and-operation-repeatability",
        area: "code idempotency and operation repeatability",
        description: "Operations that should give the same result when repeated but do not, or \
            that apply their effect more than once.",
        symptoms: "a second call changing the result again, duplicated entries after a retry, \
            counters incremented twice, or different results for the same input on repeated \
            calls",
    },
    Row {
        slug: "null-safety-and-optional-value-handling",
        area: "code null safety and optional value handling",
        description: "Missing values (None, null, empty options) that are not checked for, or \
            that are treated as present, or present values wrongly treated as missing.",
        symptoms: "crashes or panics on a missing value, None returned where a value exists, \
            missing entries treated as zero or empty without reason, or checks for absence that \
            were dropped",
    },
    Row {
        slug: "memory-management-and-object-lifecycle",
        area: "code memory management and object lifecycle",
        description: "Objects kept alive longer than needed, released too early, copied where \
            they should be shared or shared where they should be copied.",
        symptoms: "caches or collections that only ever grow, aliasing where a change to one \
            object shows up in another, objects used after they were replaced, or copies that \
            miss later updates",
    },
    Row {
        slug: "input-output-handling-and-data-flow",
        area: "code input/output handling and data flow",
        description: "Data read or written incorrectly, or passed along the wrong path between \
            reading and writing: wrong formats, lost fields or values sent to the wrong place.",
        symptoms: "fields lost or misread when parsing input, output written in the wrong \
            format, values flowing to the wrong destination, or data that is read but never used",
    },
];

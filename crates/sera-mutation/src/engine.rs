//! Enumeration, sampling and materialisation of mutants.
//!
//! Determinism: candidates are enumerated per file in parallel, then sorted into one canonical
//! order; each candidate's sampling key is drawn from its own SplitMix64 sub-stream named by its
//! id, so neither the thread count nor the presence of other files changes which candidates
//! win. Materialising (splice, re-parse, diff) is also parallel, in batches whose results are
//! accepted strictly in key order.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use sera_core::{ByteSpan, Entity, Language, Mutant, Patch, SplitMix64, stable_id};

use crate::external::{Edit, ExternalOperator};
use crate::operators::OPERATORS;
use crate::syntax::{self, Parsed, Reparser, Site};

/// One source file to mutate.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Repository-relative path with `/` separators, as in [`Entity::file`].
    pub path: String,
    pub language: Language,
    pub text: String,
    /// A tree-sitter parse of `text` made elsewhere (the index has one, see `sera-code`'s
    /// `index_each`), which saves parsing the file again. It is used only when
    /// it comes from the grammar this crate parses `language` with; otherwise the file is
    /// parsed here as if it were `None`.
    pub tree: Option<tree_sitter::Tree>,
}

impl SourceFile {
    /// A file to be parsed by the engine.
    pub fn new(path: impl Into<String>, language: Language, text: impl Into<String>) -> Self {
        SourceFile { path: path.into(), language, text: text.into(), tree: None }
    }
}

/// What to generate and how much of it.
#[derive(Debug, Clone, PartialEq)]
pub struct MutateConfig {
    /// The repository's name, part of every mutant id.
    pub repo: String,
    /// The commit the sources come from, part of every mutant id when known.
    pub commit: Option<String>,
    pub seed: u64,
    /// At most this many mutants in all; `None` for no limit.
    pub limit: Option<usize>,
    /// At most this many mutants per function, so that a large repository yields a varied
    /// sample rather than many mutants of one long function; 0 for no cap.
    pub per_function: usize,
    /// Only these operator slugs; `None` for all.
    pub operators: Option<Vec<String>>,
    /// Only operators tagged with at least one of these class slugs; `None` for all.
    pub classes: Option<Vec<String>>,
    /// Replaces an operator's default weight, by slug.
    pub weights: BTreeMap<String, f64>,
    /// Files larger than this are skipped (and counted): generated tables and vendored bundles
    /// make poor bugs and slow every stage after this one.
    pub max_file_bytes: usize,
}

impl Default for MutateConfig {
    fn default() -> Self {
        MutateConfig {
            repo: String::new(),
            commit: None,
            seed: 0,
            limit: None,
            per_function: 8,
            operators: None,
            classes: None,
            weights: BTreeMap::new(),
            max_file_bytes: 1 << 20,
        }
    }
}

/// The mutants and what happened on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Sorted by file, span and operator.
    pub mutants: Vec<Mutant>,
    pub stats: Stats,
}

/// Counts for the summary line and the run report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: usize,
    /// Files tree-sitter could not parse cleanly; never mutated.
    pub skipped_unparsable: usize,
    /// Files over [`MutateConfig::max_file_bytes`].
    pub skipped_too_large: usize,
    /// Distinct candidate changes inside non-test functions, before sampling.
    pub candidates: usize,
    /// Candidates per operator slug.
    pub candidates_by_operator: BTreeMap<String, usize>,
    /// Sampled candidates whose file no longer parsed after the change.
    pub discarded_unparsable: usize,
    /// Sampled candidates whose patch equalled an earlier mutant's.
    pub duplicates: usize,
    pub emitted: usize,
}

/// Why mutation could not start, or an external operator stopped it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("unknown mutation operator `{0}`; known operators: {1}")]
    UnknownOperator(String, String),
    #[error("no selected mutation operator is tagged with bug class `{0}`")]
    NoOperatorForClass(String),
    #[error("weight of operator `{0}` must be a positive finite number, got {1}")]
    BadWeight(String, f64),
    #[error("mutation operator `{0}` is defined twice (a plugin operator may not reuse a slug)")]
    DuplicateOperator(String),
    #[error("mutation operator `{operator}` failed on {file}: {detail}")]
    External { operator: String, file: String, detail: String },
}

/// Enumerates, samples and materialises mutants of `files` with the built-in operators. Only
/// code inside a non-test `entity` of the same file is mutated; a change is attributed to the
/// innermost entity containing it.
pub fn mutate(
    files: &[SourceFile],
    entities: &[Entity],
    config: &MutateConfig,
) -> Result<Outcome, Error> {
    mutate_with(files, entities, config, &[])
}

/// [`mutate`] with `external` operators (a plugin's, say) alongside the built-in ones. Their
/// slugs take part in [`MutateConfig::operators`], [`MutateConfig::classes`] and
/// [`MutateConfig::weights`] like built-in slugs; where an external and a built-in operator
/// propose the same change, it is kept once, under the built-in one.
pub fn mutate_with(
    files: &[SourceFile],
    entities: &[Entity],
    config: &MutateConfig,
    external: &[&dyn ExternalOperator],
) -> Result<Outcome, Error> {
    let mutator = Mutator::new(config, external)?;
    let by_file = by_file(entities);
    // Scan per file, in parallel; the first failing file in input order decides the error.
    let scans: Vec<Result<FileScan, Error>> = files
        .par_iter()
        .map(|file| {
            let entities = by_file.get(file.path.as_str()).map_or(&[][..], Vec::as_slice);
            mutator.scan_with(file, file.tree.as_ref(), entities)
        })
        .collect();
    let scans = scans.into_iter().collect::<Result<Vec<_>, _>>()?;
    mutator.finish(files, entities, scans)
}

/// The entities of each file, in their order in `entities`.
fn by_file(entities: &[Entity]) -> HashMap<&str, Vec<&Entity>> {
    let mut by_file: HashMap<&str, Vec<&Entity>> = HashMap::new();
    for entity in entities {
        by_file.entry(entity.file.as_str()).or_default().push(entity);
    }
    by_file
}

/// [`mutate_with`] in two steps, for a caller that has each file's tree only for a while (the
/// index, which can hand every file over as it parses it): [`Mutator::scan`] finds one file's
/// candidate changes while its tree is at hand, and [`Mutator::finish`] samples and
/// materialises them all, parsing each file again only if a change in it is sampled. Peak
/// memory is then the texts and the mutants rather than every file's syntax tree.
pub struct Mutator<'a> {
    config: &'a MutateConfig,
    external: &'a [&'a dyn ExternalOperator],
    catalogue: Vec<Entry<'a>>,
    progress: Option<&'a (dyn Fn(usize) + Sync)>,
}

/// One file's candidate changes, from [`Mutator::scan`], for [`Mutator::finish`].
#[derive(Debug)]
pub struct FileScan(Scan);

impl<'a> Mutator<'a> {
    /// Checks the configuration's operator and class slugs and weights against the built-in
    /// and `external` operators.
    pub fn new(
        config: &'a MutateConfig,
        external: &'a [&'a dyn ExternalOperator],
    ) -> Result<Mutator<'a>, Error> {
        Ok(Mutator { config, external, catalogue: catalogue(config, external)?, progress: None })
    }

    /// Calls `progress` from [`Mutator::finish`] with the number of changes just re-parsed and
    /// diffed, for a caller that shows how the longest part of a large run advances.
    pub fn with_progress(mut self, progress: &'a (dyn Fn(usize) + Sync)) -> Mutator<'a> {
        self.progress = Some(progress);
        self
    }

    /// The candidate changes in `file`, which `entities` (that file's, in the order they will
    /// have in [`Mutator::finish`]'s `entities`) say where to look. `tree` is a parse of the
    /// file's text made elsewhere, used when it comes from this crate's grammar; the file is
    /// parsed here otherwise.
    pub fn scan(
        &self,
        file: &SourceFile,
        tree: Option<&tree_sitter::Tree>,
        entities: &[Entity],
    ) -> Result<FileScan, Error> {
        self.scan_with(file, tree, &entities.iter().collect::<Vec<_>>())
    }

    fn scan_with(
        &self,
        file: &SourceFile,
        tree: Option<&tree_sitter::Tree>,
        entities: &[&Entity],
    ) -> Result<FileScan, Error> {
        scan(file, tree, entities, &self.catalogue, self.external, self.config).map(FileScan)
    }

    /// Samples and materialises the candidates of `scans`, one per file of `files` and in the
    /// same order, as [`mutate_with`] does. Files whose trees are given are not parsed again.
    ///
    /// # Panics
    ///
    /// When `scans` and `files` differ in length.
    pub fn finish(
        &self,
        files: &[SourceFile],
        entities: &[Entity],
        scans: Vec<FileScan>,
    ) -> Result<Outcome, Error> {
        assert_eq!(files.len(), scans.len(), "one scan per file");
        let (config, catalogue) = (self.config, &self.catalogue);
        let by_file = by_file(entities);
        let mut stats = Stats { files: files.len(), ..Stats::default() };
        let mut candidates = Vec::new();
        for (index, (file, FileScan(scan))) in files.iter().zip(scans).enumerate() {
            match scan {
                Scan::TooLarge => stats.skipped_too_large += 1,
                Scan::Unparsable => stats.skipped_unparsable += 1,
                Scan::Ok(found) => {
                    let entities = by_file.get(file.path.as_str()).map_or(&[][..], Vec::as_slice);
                    candidates.extend(found.into_iter().map(|f| Candidate {
                        file: index,
                        op: f.op,
                        edit: f.edit,
                        entity: entities[f.entity],
                        weight: f.weight,
                    }));
                }
            }
        }
        let progress = self.progress.unwrap_or(&|_| {});
        sample(files, candidates, catalogue, config, stats, progress)
    }
}

/// Sorts, samples and materialises the candidates of a run.
fn sample(
    files: &[SourceFile],
    mut candidates: Vec<Candidate<'_>>,
    catalogue: &[Entry<'_>],
    config: &MutateConfig,
    mut stats: Stats,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<Outcome, Error> {
    // One canonical order; identical changes from different operators are kept once, under
    // the operator listed first in the catalogue.
    candidates.sort_by(|a, b| (change(a), a.op).cmp(&(change(b), b.op)));
    candidates.dedup_by(|b, a| change(a) == change(b));
    stats.candidates = candidates.len();
    for c in &candidates {
        *stats.candidates_by_operator.entry(catalogue[c.op].slug.to_string()).or_default() += 1;
    }
    if config.limit == Some(0) {
        // Only the counts were asked for (`sera mutate --limit 0`): nothing to sample.
        return Ok(Outcome { mutants: Vec::new(), stats });
    }

    // Sampling keys: exponential races (Efraimidis-Spirakis), `-ln(u) / weight`, smallest first.
    let commit = config.commit.as_deref().unwrap_or("");
    let mut keyed: Vec<(f64, String, usize)> = candidates
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            let file = &files[c.file];
            let span = format!("{}..{}", c.edit.start, c.edit.end);
            // The replacement is part of the id because one operator may offer several
            // changes of one span (`<` to `>=` and to `==`; a body replaced by `0` or `1`).
            let id = stable_id(
                "m",
                &[
                    &config.repo,
                    commit,
                    &file.path,
                    catalogue[c.op].slug,
                    &span,
                    &c.edit.replacement,
                ],
            );
            let u = SplitMix64::derive(config.seed, &id).next_f64();
            ((-(1.0 - u).ln()) / c.weight, id, i)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));

    let limit = config.limit.unwrap_or(usize::MAX);
    let cap = if config.per_function == 0 { usize::MAX } else { config.per_function };
    let mut per_entity: HashMap<&str, usize> = HashMap::new();
    let mut seen_patches: HashSet<String> = HashSet::new();
    let mut mutants = Vec::new();
    // The sequential rule, in key order: a candidate whose function has room is materialised
    // and accepted unless its file no longer parses or its patch repeats an earlier one. The
    // changes are materialised ahead, in parallel, in batches of the candidates the rule would
    // take if every change so far works; the rare one that does not makes room that a later
    // batch fills. Decisions are taken strictly in key order, so the outcome is the
    // sequential rule's whatever the batches.
    let mut built: HashMap<usize, Option<(Patch, String)>> = HashMap::new();
    let mut next = 0;
    while mutants.len() < limit && next < keyed.len() {
        let (_, id, i) = &keyed[next];
        let c = &candidates[*i];
        if per_entity.get(c.entity.id.as_str()).copied().unwrap_or(0) >= cap {
            next += 1;
            continue;
        }
        let Some(result) = built.remove(&next) else {
            let batch =
                ahead(next, &keyed, &candidates, &per_entity, &built, cap, limit - mutants.len());
            built.extend(materialise_all(files, &candidates, &keyed, batch, progress));
            continue;
        };
        next += 1;
        let Some((patch, text)) = result else {
            stats.discarded_unparsable += 1;
            continue;
        };
        if !seen_patches.insert(text) {
            stats.duplicates += 1;
            continue;
        }
        *per_entity.entry(c.entity.id.as_str()).or_insert(0) += 1;
        let operator = &catalogue[c.op];
        let file = &files[c.file];
        mutants.push(Mutant {
            id: id.clone(),
            repo: config.repo.clone(),
            commit: config.commit.clone(),
            file: file.path.clone(),
            language: file.language,
            entity: c.entity.qualified_name.clone(),
            entity_id: c.entity.id.clone(),
            operator: operator.slug.to_string(),
            classes: operator.classes.iter().map(|s| s.to_string()).collect(),
            description: format!("{} in `{}`", c.edit.description, c.entity.name),
            span: ByteSpan { start: c.edit.start, end: c.edit.end },
            patch,
        });
    }
    mutants.sort_by(|a, b| {
        (&a.file, a.span, &a.operator, &a.id).cmp(&(&b.file, b.span, &b.operator, &b.id))
    });
    stats.emitted = mutants.len();
    Ok(Outcome { mutants, stats })
}

/// The patches of the candidates at `batch` (positions in `keyed`), each file parsed once.
fn materialise_all(
    files: &[SourceFile],
    candidates: &[Candidate<'_>],
    keyed: &[(f64, String, usize)],
    mut batch: Vec<usize>,
    progress: &(dyn Fn(usize) + Sync),
) -> Vec<(usize, Option<(Patch, String)>)> {
    batch.sort_by_key(|&k| candidates[keyed[k].2].file);
    let groups: Vec<&[usize]> = batch
        .chunk_by(|a, b| candidates[keyed[*a].2].file == candidates[keyed[*b].2].file)
        .collect();
    groups
        .par_iter()
        .map_init(ReparserPair::default, |reparsers, group| {
            let file = &files[candidates[keyed[group[0]].2].file];
            let parsed = ParsedFile::of(file).expect("a file with candidates parsed when scanned");
            let built: Vec<_> = group
                .iter()
                .map(|&k| (k, materialise(file, &parsed, &candidates[keyed[k].2], reparsers)))
                .collect();
            progress(built.len());
            built
        })
        .flatten_iter()
        .collect()
}

/// The positions in `keyed`, from `from` on, that the sequential rule would take if every
/// change not yet materialised worked: each function up to `cap`, counting the ones already
/// taken (`per_entity`) and those materialised ahead that parsed (`built`), up to `room` in
/// all. Only those not yet in `built` are returned; `from` always is. A change known to break
/// its file leaves its room to the next candidate, so one batch plans the replacements of
/// every failure it knows of, and each file is parsed again as few times as possible.
fn ahead(
    from: usize,
    keyed: &[(f64, String, usize)],
    candidates: &[Candidate<'_>],
    per_entity: &HashMap<&str, usize>,
    built: &HashMap<usize, Option<(Patch, String)>>,
    cap: usize,
    room: usize,
) -> Vec<usize> {
    let mut taken: HashMap<&str, usize> = HashMap::new();
    let (mut planned, mut batch) = (0, Vec::new());
    for (k, key) in keyed.iter().enumerate().skip(from) {
        if planned >= room {
            break;
        }
        let known = built.get(&k);
        if matches!(known, Some(None)) {
            continue;
        }
        let id = candidates[key.2].entity.id.as_str();
        let count = taken.entry(id).or_insert_with(|| per_entity.get(id).copied().unwrap_or(0));
        if *count < cap {
            *count += 1;
            planned += 1;
            if known.is_none() {
                batch.push(k);
            }
        }
    }
    batch
}

/// What identifies a change: the file and the splice.
fn change<'c>(c: &'c Candidate<'_>) -> (usize, usize, usize, &'c str) {
    (c.file, c.edit.start, c.edit.end, &c.edit.replacement)
}

/// One candidate: a splice by operator `op` (an index into the catalogue), the file it is in
/// and the function it belongs to.
struct Candidate<'e> {
    file: usize,
    op: usize,
    edit: Edit,
    entity: &'e Entity,
    weight: f64,
}

/// A parsed file and the offsets of its newlines, for line numbers without rescanning.
struct ParsedFile {
    tree: Parsed,
    newlines: Vec<usize>,
}

impl ParsedFile {
    /// The file's own tree when it has one from our grammar, a fresh parse otherwise; `None`
    /// when it has syntax errors.
    fn of(file: &SourceFile) -> Option<ParsedFile> {
        let tree = parse_file(file, file.tree.as_ref())?;
        let newlines = file.text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i);
        Some(ParsedFile { tree, newlines: newlines.collect() })
    }
}

/// `tree` when it is a parse of `file` with our grammar, a fresh parse otherwise; `None` when
/// the file has syntax errors.
fn parse_file(file: &SourceFile, tree: Option<&tree_sitter::Tree>) -> Option<Parsed> {
    match tree {
        Some(tree) => syntax::adopt(file.language, tree.clone())
            .unwrap_or_else(|| syntax::parse(file.language, &file.text)),
        None => syntax::parse(file.language, &file.text),
    }
}

#[derive(Debug)]
enum Scan {
    TooLarge,
    Unparsable,
    Ok(Vec<Found>),
}

/// A candidate as a scan finds it: `entity` indexes the file's entities.
#[derive(Debug)]
struct Found {
    op: usize,
    edit: Edit,
    entity: usize,
    weight: f64,
}

/// One operator of the run: the built-in ones in [`OPERATORS`] order, then the external ones.
struct Entry<'a> {
    slug: &'a str,
    classes: Vec<&'a str>,
    /// `None` for operators left out by the configuration.
    weight: Option<f64>,
}

/// The run's operators with their weights, checking the configuration's slugs against them.
fn catalogue<'a>(
    config: &MutateConfig,
    external: &[&'a dyn ExternalOperator],
) -> Result<Vec<Entry<'a>>, Error> {
    let mut all: Vec<(&'a str, Vec<&'a str>, f64)> =
        OPERATORS.iter().map(|op| (op.slug, op.classes.to_vec(), op.weight)).collect();
    for op in external {
        if all.iter().any(|(slug, ..)| *slug == op.slug()) {
            return Err(Error::DuplicateOperator(op.slug().to_string()));
        }
        all.push((op.slug(), op.classes().iter().map(String::as_str).collect(), op.weight()));
    }
    for slug in config.operators.iter().flatten().chain(config.weights.keys()) {
        if !all.iter().any(|(known, ..)| known == slug) {
            let known = all.iter().map(|(s, ..)| *s).collect::<Vec<_>>().join(", ");
            return Err(Error::UnknownOperator(slug.clone(), known));
        }
    }
    let mut entries = Vec::with_capacity(all.len());
    for (slug, classes, default) in all {
        let chosen = config.operators.as_ref().is_none_or(|list| list.iter().any(|s| s == slug))
            && config
                .classes
                .as_ref()
                .is_none_or(|list| list.iter().any(|c| classes.contains(&c.as_str())));
        let weight = config.weights.get(slug).copied().unwrap_or(default);
        if !(weight.is_finite() && weight > 0.0) {
            return Err(Error::BadWeight(slug.to_string(), weight));
        }
        entries.push(Entry { slug, classes, weight: chosen.then_some(weight) });
    }
    for class in config.classes.iter().flatten() {
        if !entries.iter().any(|e| e.weight.is_some() && e.classes.contains(&class.as_str())) {
            return Err(Error::NoOperatorForClass(class.clone()));
        }
    }
    Ok(entries)
}

fn scan(
    file: &SourceFile,
    tree: Option<&tree_sitter::Tree>,
    entities: &[&Entity],
    catalogue: &[Entry<'_>],
    external: &[&dyn ExternalOperator],
    config: &MutateConfig,
) -> Result<Scan, Error> {
    if file.text.len() > config.max_file_bytes {
        return Ok(Scan::TooLarge);
    }
    let Some(parsed) = parse_file(file, tree) else {
        return Ok(Scan::Unparsable);
    };
    let mut candidates = Vec::new();
    if entities.is_empty() {
        return Ok(Scan::Ok(candidates));
    }
    // The innermost entity holding the whole change; test code is never mutated.
    let owner = |start: usize, end: usize| {
        (0..entities.len())
            .filter(|&i| entities[i].bytes.start <= start && end <= entities[i].bytes.end)
            .min_by_key(|&i| entities[i].bytes.end - entities[i].bytes.start)
            .filter(|&i| !entities[i].is_test)
    };
    let mut add = |op: usize, weight: f64, edit: Edit| {
        if let Some(entity) = owner(edit.start, edit.end) {
            candidates.push(Found { op, edit, entity, weight });
        }
    };
    // Only non-test functions are mutated: the walk need not look anywhere else.
    let mut spans: Vec<(usize, usize)> =
        entities.iter().filter(|e| !e.is_test).map(|e| (e.bytes.start, e.bytes.end)).collect();
    spans.sort_unstable();
    let mut regions: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (start, end) in spans {
        match regions.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => regions.push((start, end)),
        }
    }
    for site in syntax::sites(&parsed, &file.text, &regions) {
        let op = site.op as usize;
        if let Some(weight) = catalogue[op].weight {
            let Site { start, end, replacement, what, .. } = site;
            add(op, weight, Edit { start, end, replacement, description: what });
        }
    }
    for (i, operator) in external.iter().enumerate() {
        let op = OPERATORS.len() + i;
        let Some(weight) = catalogue[op].weight else { continue };
        for entity in entities.iter().filter(|e| !e.is_test) {
            let failed = |detail: String| Error::External {
                operator: operator.slug().to_string(),
                file: file.path.clone(),
                detail,
            };
            for edit in operator.edits(file, entity).map_err(failed)? {
                let (start, end) = (edit.start, edit.end);
                let inside = entity.bytes.start <= start
                    && start <= end
                    && end <= entity.bytes.end
                    && file.text.is_char_boundary(start)
                    && file.text.is_char_boundary(end);
                if !inside {
                    return Err(failed(format!(
                        "edit {start}..{end} is not a range of characters inside `{}` ({}..{})",
                        entity.qualified_name, entity.bytes.start, entity.bytes.end
                    )));
                }
                if file.text[start..end] != edit.replacement {
                    add(op, weight, edit);
                }
            }
        }
    }
    Ok(Scan::Ok(candidates))
}

#[derive(Default)]
struct ReparserPair {
    rust: Option<Reparser>,
    python: Option<Reparser>,
}

impl ReparserPair {
    fn get(&mut self, language: Language) -> &mut Reparser {
        let slot = match language {
            Language::Rust => &mut self.rust,
            Language::Python => &mut self.python,
        };
        slot.get_or_insert_with(|| Reparser::new(language))
    }
}

/// The mutant's patch and its text, or `None` when the changed file no longer parses.
fn materialise(
    file: &SourceFile,
    parsed: &ParsedFile,
    c: &Candidate<'_>,
    reparsers: &mut ReparserPair,
) -> Option<(Patch, String)> {
    let (start, end, replacement) = (c.edit.start, c.edit.end, c.edit.replacement.as_str());
    let reparser = reparsers.get(file.language);
    if !reparser.still_parses(&parsed.tree, &file.text, start, end, replacement) {
        return None;
    }
    let line = |at: usize| parsed.newlines.partition_point(|&n| n < at);
    let patch = windowed_patch(&file.path, &file.text, line, start, end, replacement);
    let text = patch.render();
    (!patch.is_empty()).then_some((patch, text))
}

/// Lines of unchanged text kept around a change when diffing; more than the patch's three lines
/// of context so that the diff of the window equals the diff of the whole file.
const WINDOW_MARGIN: usize = 16;

/// `Patch::between` on a window of lines around the splice, renumbered to the whole file
/// (`line` gives the 0-based line of a byte offset). Diffing whole files would cost time
/// proportional to the file for every mutant.
fn windowed_patch(
    path: &str,
    old: &str,
    line: impl Fn(usize) -> usize,
    start: usize,
    end: usize,
    replacement: &str,
) -> Patch {
    let bytes = old.as_bytes();
    // Window start: the beginning of the line WINDOW_MARGIN lines above the change.
    let mut lo = start;
    let mut lines_up = 0;
    while lo > 0 {
        if bytes[lo - 1] == b'\n' {
            if lines_up == WINDOW_MARGIN {
                break;
            }
            lines_up += 1;
        }
        lo -= 1;
    }
    // Window end: just after the newline WINDOW_MARGIN lines below the change, or the end.
    let mut hi = end;
    let mut lines_down = 0;
    while hi < bytes.len() {
        hi += 1;
        if bytes[hi - 1] == b'\n' {
            lines_down += 1;
            if lines_down > WINDOW_MARGIN {
                break;
            }
        }
    }
    let mut new = String::with_capacity(hi - lo + replacement.len());
    new.push_str(&old[lo..start]);
    new.push_str(replacement);
    new.push_str(&old[end..hi]);
    let offset = line(lo);
    let mut patch = Patch::between(path, &old[lo..hi], &new);
    for file in &mut patch.files {
        for hunk in &mut file.hunks {
            hunk.old_start += offset;
            hunk.new_start += offset;
        }
    }
    patch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_patch_equals_whole_file_diff() {
        let old: String = (0..200).map(|i| format!("line {i}\n")).collect();
        let line = |at: usize| old.as_bytes()[..at].iter().filter(|&&b| b == b'\n').count();
        for (start, end, replacement) in
            [(0, 4, "LINE"), (700, 712, ""), (old.len() - 8, old.len(), "x"), (50, 50, "new\n")]
        {
            let new = format!("{}{}{}", &old[..start], replacement, &old[end..]);
            assert_eq!(
                windowed_patch("a.txt", &old, line, start, end, replacement),
                Patch::between("a.txt", &old, &new),
                "{start}..{end}"
            );
        }
    }
}

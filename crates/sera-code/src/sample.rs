//! Seeded choice of start functions for bug generation.

use sera_core::{Entity, SplitMix64};

/// Up to `count` start functions, drawn uniformly without replacement with `seed`.
///
/// Test code is never a start function: neither entities marked `is_test` nor anything in a file
/// whose path contains `tests` (fixtures, helpers and data next to the tests), as in SERA. The
/// draw depends only on the seed and on the candidates in index order, so the same repository and
/// seed give the same functions on every machine.
pub fn sample_start_functions(entities: &[Entity], count: usize, seed: u64) -> Vec<&Entity> {
    let mut candidates: Vec<&Entity> =
        entities.iter().filter(|e| !e.is_test && !e.file.contains("tests")).collect();
    let mut rng = SplitMix64::derive(seed, "sera-code/start-functions");
    rng.shuffle(&mut candidates);
    candidates.truncate(count);
    candidates
}

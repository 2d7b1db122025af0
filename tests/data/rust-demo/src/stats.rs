//! Summary statistics over amounts.

/// The arithmetic mean, or `None` for no values.
pub fn mean(values: &[i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let sum: i64 = values.iter().sum();
    Some(sum as f64 / values.len() as f64)
}

/// The median of the values (the lower middle one for an even count).
pub fn median(values: &[i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    Some(sorted[(sorted.len() - 1) / 2])
}

/// Restricts `value` to `low..=high`.
pub fn clamp(value: i64, low: i64, high: i64) -> i64 {
    if value < low {
        low
    } else if value > high {
        high
    } else {
        value
    }
}

/// Counts values into `buckets` equal-width buckets between the minimum and the maximum.
pub fn histogram(values: &[i64], buckets: usize) -> Vec<usize> {
    let mut counts = vec![0; buckets];
    if values.is_empty() || buckets == 0 {
        return counts;
    }
    let low = *values.iter().min().expect("not empty");
    let high = *values.iter().max().expect("not empty");
    // Ceiling of (span / buckets) so that the maximum lands in the last bucket.
    let width = ((high - low) as usize + buckets) / buckets;
    for &value in values {
        let index = ((value - low) as usize / width).min(buckets - 1);
        counts[index] += 1;
    }
    counts
}

/// Running totals: the i-th output is the sum of the first i+1 inputs.
pub fn running_total(values: &[i64]) -> Vec<i64> {
    let mut total = 0;
    let mut out = Vec::with_capacity(values.len());
    for value in values {
        total += value;
        out.push(total);
    }
    out
}

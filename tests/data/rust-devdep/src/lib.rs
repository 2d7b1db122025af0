//! Summaries of meter readings.

/// The sum of all readings.
pub fn total(readings: &[u32]) -> u64 {
    readings.iter().map(|&r| u64::from(r)).sum()
}

/// The largest reading, or `None` when there are none.
pub fn peak(readings: &[u32]) -> Option<u32> {
    readings.iter().copied().max()
}

/// The readings at or above `threshold`, counted.
pub fn hours_at_or_above(readings: &[u32], threshold: u32) -> usize {
    readings.iter().filter(|&&r| r >= threshold).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_of_a_ramp() {
        assert_eq!(total(&meter_testkit::ramp()), 276);
    }

    #[test]
    fn peak_of_nothing_is_none() {
        assert_eq!(peak(&[]), None);
    }
}

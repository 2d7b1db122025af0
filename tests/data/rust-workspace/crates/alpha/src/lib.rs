//! alpha: small integer helpers, one member of the workspace fixture.

/// The larger of two values.
///
/// ```
/// assert_eq!(alpha::larger(2, 3), 3);
/// ```
pub fn larger(a: i64, b: i64) -> i64 {
    if a > b {
        a
    } else {
        b
    }
}

/// The sum of the values from 1 to `n`.
pub fn triangle(n: u64) -> u64 {
    (1..=n).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn larger_picks_the_larger_value() {
        assert_eq!(larger(5, -1), 5);
        assert_eq!(larger(-1, 5), 5);
    }

    #[test]
    fn triangle_of_four_is_ten() {
        assert_eq!(triangle(4), 10);
    }
}

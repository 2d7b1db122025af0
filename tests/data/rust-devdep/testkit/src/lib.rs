//! Readings for the tests of `meter`.

/// A day of hourly readings: a ramp from 0 to 23.
pub fn ramp() -> Vec<u32> {
    (0..24).collect()
}

/// The same reading every hour.
pub fn flat(value: u32) -> Vec<u32> {
    vec![value; 24]
}

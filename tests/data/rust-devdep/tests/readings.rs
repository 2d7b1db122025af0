use meter::{hours_at_or_above, peak, total};

#[test]
fn peak_of_a_ramp_is_its_last_hour() {
    assert_eq!(peak(&meter_testkit::ramp()), Some(23));
}

#[test]
fn threshold_counts_the_hour_that_equals_it() {
    assert_eq!(hours_at_or_above(&meter_testkit::ramp(), 20), 4);
}

#[test]
fn flat_day_totals() {
    assert_eq!(total(&meter_testkit::flat(5)), 120);
}

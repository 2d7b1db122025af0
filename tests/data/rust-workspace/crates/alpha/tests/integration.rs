#[test]
fn helpers_agree() {
    assert_eq!(alpha::larger(alpha::triangle(3) as i64, 2), 6);
}

#[test]
fn triangle_of_zero_is_zero() {
    assert_eq!(alpha::triangle(0), 0);
}

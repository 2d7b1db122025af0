fn a() {
    1
}

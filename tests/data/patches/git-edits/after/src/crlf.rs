fn a() {
    2
}

// E025: a constant product overflows 64-bit integers
space s {
    param width = choice(64, 128)
    let big = 5G * 5G * 5G
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = width + big)
    }
}

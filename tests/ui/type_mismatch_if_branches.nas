// E009: the two branches of an `if` have different types
space s {
    param width = choice(64, 128)
    let hidden = if width > 64 { 4 * width } else { "small" }
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

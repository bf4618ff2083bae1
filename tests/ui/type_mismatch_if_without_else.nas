// E009: a value `if` without `else` has no value in the other case
space s {
    param width = choice(64, 128)
    let hidden = if width > 64 { 4 * width }
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

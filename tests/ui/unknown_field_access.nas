// E007: field access on a value that is not `data`
space s {
    param width = choice(64, 128)
    let d_ff = width.size * 4
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = d_ff)
        lm_head(vocab = 100)
    }
}

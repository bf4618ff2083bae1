// E015: a dependent value divided by the constant zero
space s {
    param width = choice(64, 128)
    let head_dim = width / 0
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = head_dim)
        lm_head(vocab = 100)
    }
}

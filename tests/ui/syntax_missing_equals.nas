// E001: a `param` without `=` between its name and its domain
space s {
    param width choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

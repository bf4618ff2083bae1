// E014: a `range` with a step of zero
space s {
    param width = range(64, 256, step = 0)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

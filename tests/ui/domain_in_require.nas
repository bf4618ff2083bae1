// E019: a `choice` inside a constraint, where only fixed values may stand
space s {
    param width = choice(64, 128)
    require width >= choice(32, 64)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

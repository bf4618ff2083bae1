// E019: a `require` inside a graph block
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        require width >= 64
        lm_head(vocab = 100)
    }
}

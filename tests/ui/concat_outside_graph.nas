// E019: `concat` used outside a graph
space s {
    param width = choice(64, 128)
    let joined = concat(width, width)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

// E019: a search strategy called inside a graph
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        random(samples = 4)
        lm_head(vocab = 100)
    }
}

// E014: a `uniform` whose bounds are equal
space s {
    param width = choice(64, 128)
    param rate = uniform(0.1, 0.1)
    graph {
        embedding(vocab = 100, dim = width)
        dropout(rate = rate)
        lm_head(vocab = 100)
    }
}

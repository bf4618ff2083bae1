// E019: a `range` whose upper bound is another hyperparameter
space s {
    param width = choice(64, 128)
    param hidden = range(64, width)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

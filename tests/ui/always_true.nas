// W003: a constraint that every value of its hyperparameter satisfies
space s {
    param width = choice(64, 128)
    require width >= 64
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

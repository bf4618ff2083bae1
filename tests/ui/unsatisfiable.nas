// E017: a constraint that no value of its hyperparameter satisfies
space s {
    param width = choice(64, 128)
    require width > 256
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

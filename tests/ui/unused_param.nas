// W001: a hyperparameter that nothing uses
space s {
    param width = choice(64, 128)
    param heads = choice(2, 4)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

// E006: two hyperparameters of one space with the same name
space s {
    param width = choice(64, 128)
    param width = choice(256, 512)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

// E007: a hyperparameter name with two letters swapped (`widht` for `width`)
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = widht)
        lm_head(vocab = 100)
    }
}

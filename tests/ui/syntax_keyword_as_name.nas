// E001: a keyword (`repeat`) used as the name of a hyperparameter
space s {
    param repeat = choice(1, 2)
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

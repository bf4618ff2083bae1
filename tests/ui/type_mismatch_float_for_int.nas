// E009: a float hyperparameter passed where an int is needed
space s {
    param width = choice(64, 128)
    param hidden = uniform(64.0, 512.0)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

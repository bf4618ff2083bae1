// E032: a continuous hyperparameter makes the space infinite.
// run: enumerate
space s {
    param width = choice(64, 128)
    param rate = uniform(0.0, 0.3)
    graph {
        embedding(vocab = 100, dim = width)
        dropout(rate = rate)
        lm_head(vocab = 100)
    }
}

// W001: a constraint on a continuous hyperparameter is checked when sampling, not counted (no false W003)
space s {
    param rate = uniform(0.0, 0.5)
    param unused = choice(1, 2)
    require rate < 0.3
    graph {
        embedding(vocab = 100, dim = 64)
        dropout(rate = rate)
        lm_head(vocab = 100)
    }
}

// E014: a `log_uniform` whose lower bound is zero
space s {
    param width = choice(64, 128)
    param rate = log_uniform(0.0, 0.5)
    graph {
        embedding(vocab = 100, dim = width)
        dropout(rate = rate)
        lm_head(vocab = 100)
    }
}

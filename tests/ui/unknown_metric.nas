// E023: an objective that names no metric
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    objective {
        minimize val_los
        maximize speed
    }
}

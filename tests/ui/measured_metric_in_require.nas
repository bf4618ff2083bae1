// E024: a measured metric in a constraint, where only static metrics can be evaluated
space s {
    param width = choice(64, 128)
    require val_loss() < 2.0
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

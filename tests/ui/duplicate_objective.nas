// E012: an objective metric listed twice
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    objective {
        minimize val_loss
        minimize val_loss
    }
}

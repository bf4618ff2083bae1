// E022: `score`, the weighted sum of the objectives, listed as one of them
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    objective {
        minimize val_loss weight 1
        minimize score weight 1
    }
}

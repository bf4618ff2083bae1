// E022: one objective is weighted and the other is not
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    objective {
        minimize val_loss weight 1
        minimize latency_ms
    }
}

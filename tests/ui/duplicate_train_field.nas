// E012: a `train` field given twice
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    train { steps = 100, batch = 32, steps = 200 }
}

// E013: a choice that lists the same alternative twice
space s {
    param width = choice(64, 128, 64)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

// E010: a call that misses a required argument
space s {
    param width = choice(64, 128)
    graph {
        embedding(dim = width)
        lm_head(vocab = 100)
    }
}

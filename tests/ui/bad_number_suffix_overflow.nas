// E002: a number with a `G` suffix that overflows 64 bits once multiplied out
space s {
    param width = choice(64, 128)
    require params() <= 99999999999G
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

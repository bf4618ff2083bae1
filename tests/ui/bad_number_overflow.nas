// E002: an integer literal that does not fit in 64 bits
space s {
    param width = choice(64, 99999999999999999999)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

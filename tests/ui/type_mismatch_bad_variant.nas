// E009: a bare symbol that is not a variant of the expected enum
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        act(kind = reluu)
        lm_head(vocab = 100)
    }
}

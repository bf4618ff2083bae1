// E013: an inline choice of enum symbols that repeats one
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        act(kind = choice(gelu, relu, gelu))
        lm_head(vocab = 100)
    }
}

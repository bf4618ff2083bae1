// E012: the same keyword argument given twice
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = 64, out = width)
        lm_head(vocab = 100)
    }
}

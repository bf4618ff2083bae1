// E014: a `range` over floats
space s {
    param width = choice(64, 128)
    param layers = range(1.5, 4)
    graph {
        embedding(vocab = 100, dim = width)
        repeat layers { linear(out = width) }
        lm_head(vocab = 100)
    }
}

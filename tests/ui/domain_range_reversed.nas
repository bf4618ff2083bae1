// E014: a `range` whose lower bound is above its upper bound
space s {
    param width = choice(64, 128)
    param layers = range(8, 2)
    graph {
        embedding(vocab = 100, dim = width)
        repeat layers { linear(out = width) }
        lm_head(vocab = 100)
    }
}

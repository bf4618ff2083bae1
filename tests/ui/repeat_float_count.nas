// E009: a `repeat` whose count is a float
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        repeat 2.5 { linear(out = width) }
        lm_head(vocab = 100)
    }
}

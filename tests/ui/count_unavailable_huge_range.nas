// W004: a `range` with too many values to enumerate
space s {
    param width = range(1, 100000000)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

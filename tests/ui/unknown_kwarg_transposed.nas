// E011: a keyword argument with two letters swapped (`bais` for `bias`)
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = width, bais = false)
        lm_head(vocab = 100)
    }
}

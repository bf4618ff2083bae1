// E020: a `param` computed from another one (a `let` was meant)
space s {
    param width = choice(64, 128)
    param hidden = 4 * width
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

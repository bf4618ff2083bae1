// E019: a `choice` in a space-level `let` (a `param` was meant)
space s {
    param width = choice(64, 128)
    let hidden = choice(256, 512)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

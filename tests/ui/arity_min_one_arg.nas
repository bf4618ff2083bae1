// E010: `min` called with a single argument
space s {
    param width = choice(64, 128)
    let hidden = min(4 * width)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

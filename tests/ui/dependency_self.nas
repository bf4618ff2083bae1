// E016: a dependent value defined in terms of itself
space s {
    param width = choice(64, 128)
    let hidden = hidden + width
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

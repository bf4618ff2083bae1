// E007: a name that resembles nothing in scope
space s {
    param width = choice(64, 128)
    require width % num_heads == 0
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

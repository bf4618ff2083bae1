// E011: a keyword argument that resembles no declared argument
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        dropout(rate = 0.1, inplace = true)
        lm_head(vocab = 100)
    }
}

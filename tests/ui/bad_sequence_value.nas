// E027: a number sequenced into a module
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        width >> layer_norm()
        lm_head(vocab = 100)
    }
}

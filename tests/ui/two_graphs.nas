// E021: a space with two graphs
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    graph {
        embedding(vocab = 100, dim = width)
        layer_norm()
        lm_head(vocab = 100)
    }
}

// E031: the file does not say whether the optional dropout is on.
// run: describe {"width": 64}
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        optional dropout(rate = 0.1)
        lm_head(vocab = 100)
    }
}

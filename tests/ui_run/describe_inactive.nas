// E031: `rate` is inactive when the dropout is off, so the file must not give it.
// run: describe {"width": 64, "optional": false, "rate": 0.2}
space s {
    param width = choice(64, 128)
    param rate = choice(0.1, 0.2)
    graph {
        embedding(vocab = 100, dim = width)
        optional dropout(rate = rate)
        lm_head(vocab = 100)
    }
}

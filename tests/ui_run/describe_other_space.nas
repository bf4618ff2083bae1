// E031: the architecture file belongs to another space.
// run: describe {"space": "other", "assignment": {"width": 64}}
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

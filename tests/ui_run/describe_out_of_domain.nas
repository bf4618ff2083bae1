// E031: the architecture file gives `width` a value outside its domain.
// run: describe {"width": 100}
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

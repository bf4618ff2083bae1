// E009: a graph statement that is a number instead of a module
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        width * 2
        lm_head(vocab = 100)
    }
}

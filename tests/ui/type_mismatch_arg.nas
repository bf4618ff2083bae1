// E009: a string passed where an int argument is needed
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = "chars", dim = width)
        lm_head(vocab = 100)
    }
}

// E009: comparing an int hyperparameter with a string
space s {
    param width = choice(64, 128)
    require width != "wide"
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

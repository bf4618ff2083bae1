// E023: `data` given something that is not a data source
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    data = "tiny_shakespeare"
}

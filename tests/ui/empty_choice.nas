// E013: a choice with no alternatives
space s {
    param width = choice()
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

// E007: a misspelt hyperparameter, with a did-you-mean
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = widt)
        lm_head(vocab = 100)
    }
}

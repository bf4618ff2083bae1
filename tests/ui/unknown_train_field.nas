// E011: a misspelt `train` field, with a did-you-mean
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    train { step = 100, batch = 32 }
}

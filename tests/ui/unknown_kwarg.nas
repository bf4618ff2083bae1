// E011: a misspelt keyword argument, with a did-you-mean
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = width, biass = false)
        lm_head(vocab = 100)
    }
}

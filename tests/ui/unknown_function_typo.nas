// E008: a misspelt builtin module, with a did-you-mean
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        layer_nrom()
        lm_head(vocab = 100)
    }
}

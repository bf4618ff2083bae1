// E008: a standard-library module used without importing it
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        attention(heads = 4)
        lm_head(vocab = 100)
    }
}

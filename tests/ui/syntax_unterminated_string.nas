// E001: a string literal that is never closed
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    data = text_corpus("tiny_shakespeare, context = 128)
}

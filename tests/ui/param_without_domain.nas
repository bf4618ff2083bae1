// E020: a `param` given a fixed value instead of a domain
space s {
    param width = choice(64, 128)
    param vocab = 100
    graph {
        embedding(vocab = vocab, dim = width)
        lm_head(vocab = vocab)
    }
}

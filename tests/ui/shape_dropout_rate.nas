// E018: an inline choice gives dropout an invalid rate
space s {
    graph {
        embedding(vocab = 100, dim = 64)
        optional dropout(rate = choice(0.1, 1.5))
        lm_head(vocab = 100)
    }
}

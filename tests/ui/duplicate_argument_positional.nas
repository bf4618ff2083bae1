// E012: an argument given positionally and again by keyword
space s {
    param width = choice(64, 128)
    graph {
        embedding(100, width, vocab = 50)
        lm_head(vocab = 100)
    }
}

// E010: a call with more positional arguments than its callee takes
space s {
    param width = choice(64, 128)
    graph {
        embedding(100, width, 3)
        lm_head(vocab = 100)
    }
}

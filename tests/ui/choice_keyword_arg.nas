// E011: `choice` takes its alternatives positionally, not as keywords
space s {
    param width = choice(small = 64, large = 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

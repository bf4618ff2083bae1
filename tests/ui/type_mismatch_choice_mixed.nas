// E009: a choice whose alternatives have different types
space s {
    param width = choice(64, "wide")
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

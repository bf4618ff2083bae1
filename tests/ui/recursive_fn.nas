// E016: a function that calls itself
fn tower(depth: int) -> module {
    linear(out = 64) >> tower(depth = depth - 1)
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        tower(depth = 3)
        lm_head(vocab = 100)
    }
}

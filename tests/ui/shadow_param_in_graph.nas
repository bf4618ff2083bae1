// W002: a graph-block `let` named like a space param
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        let width = 256
        linear(out = width)
        lm_head(vocab = 100)
    }
}

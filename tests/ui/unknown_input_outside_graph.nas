// E007: `input` is only bound inside a graph
space s {
    param width = choice(64, 128)
    let x = input
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

// E027: two tensors sequenced with `>>`
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        let a = input
        let b = input >> linear(out = width)
        a >> b
        lm_head(vocab = 100)
    }
}

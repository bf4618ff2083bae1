// E016: two dependent values defined in terms of each other
space s {
    param width = choice(64, 128)
    let hidden = inner * 2
    let inner = hidden / 2
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = hidden)
        lm_head(vocab = 100)
    }
}

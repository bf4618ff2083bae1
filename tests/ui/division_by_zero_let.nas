// E015: a remainder by a `let` whose constant value is zero
space s {
    param width = choice(64, 128)
    let groups = 4 - 4
    require width % groups == 0
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

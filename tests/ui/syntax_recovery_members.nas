// E001: several broken members of one space are all reported; the valid members are still checked
space s {
    param width = choice(64, 128)
    param heads = choice(2, 4,, 8)
    let head_dim = width / 
    require width % 2 == 0
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    train { steps = 100 batch = }
}

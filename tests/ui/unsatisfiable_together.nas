// E017: constraints each satisfiable alone but contradictory together
space s {
    param width = choice(64, 128, 256)
    param heads = choice(2, 4, 8)
    require width / heads >= 64
    require heads * 32 > width
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = width / heads)
        lm_head(vocab = 100)
    }
}

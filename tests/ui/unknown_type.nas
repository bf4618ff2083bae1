// E026: a type annotation with a typo, with a did-you-mean
space s {
    param width : ints = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

// ok: the count, 2^3 = 8, is an upper bound (a constraint on `params()` is checked on
// built architectures) within the limit: the architectures are printed as they are found.
// run: enumerate --limit 8
space s {
    require params() <= 6000
    graph {
        embedding(vocab = 100, dim = 16)
        repeat 3 { linear(out = choice(16, 32)) }
        lm_head(vocab = 100)
    }
}

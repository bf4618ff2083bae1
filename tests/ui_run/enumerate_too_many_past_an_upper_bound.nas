// E032: the count, 4^6 = 4,096, is only an upper bound (a constraint on `params()` is
// checked on built architectures), so the walk itself finds the limit passed.
// run: enumerate --limit 1000
space s {
    require params() <= 100M
    graph {
        embedding(vocab = 100, dim = 64)
        repeat 6 { linear(out = choice(16, 32, 48, 64)) }
        lm_head(vocab = 100)
    }
}

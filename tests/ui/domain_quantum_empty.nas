// E014: a quantised domain with no multiple of its quantum between its bounds has no
// value at all (its values are the multiples of `q` inside `[lo, hi]`); `lr` has 30.
space s {
    param r: float = uniform(0.01, 0.02, q = 0.1)
    param lr: float = log_uniform(1e-4, 3e-3, q = 1e-4)
    graph {
        embedding(vocab = 16, dim = 8)
        dropout(rate = r)
        lm_head(vocab = 16)
    }
    train { optimizer = adam(lr = lr) }
}

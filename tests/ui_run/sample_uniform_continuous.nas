// E032: uniform sampling over architectures needs a finite space.
// run: sample -n 2 --uniform
space s {
    param rate = log_uniform(0.001, 0.1)
    graph {
        embedding(vocab = 100, dim = 64)
        dropout(rate = rate)
        lm_head(vocab = 100)
    }
}

// E032: 4^12 architectures are more than the limit of 1,000.
// run: enumerate --limit 1000
space s {
    graph {
        embedding(vocab = 100, dim = 64)
        repeat 12 { linear(out = choice(16, 32, 48, 64)) }
        lm_head(vocab = 100)
    }
}

// E018: `add` joins two branches that end with different widths
space s {
    graph {
        let x = input >> embedding(vocab = 100, dim = 64)
        let a = x >> linear(out = 64)
        let b = x >> linear(out = 32)
        add(a, b)
        lm_head(vocab = 100)
    }
}

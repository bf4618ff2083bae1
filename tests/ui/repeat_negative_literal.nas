// E028: `repeat -2` with a negative literal count
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        repeat -2 { linear(out = width) }
        lm_head(vocab = 100)
    }
}

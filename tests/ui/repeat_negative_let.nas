// E028: a `repeat` whose count is a `let` with a negative constant value
space s {
    param width = choice(64, 128)
    let depth = 2 - 5
    graph {
        embedding(vocab = 100, dim = width)
        repeat depth { linear(out = width) }
        lm_head(vocab = 100)
    }
}

// E030: no architecture of this space has at most 1,000 parameters.
// run: sample -n 1 --seed 1 --max-attempts 1000
space s {
    param width = choice(64, 128)
    param depth = range(1, 3)
    require params() <= 1000
    require depth * width < 300
    graph {
        embedding(vocab = 100, dim = width)
        repeat depth { linear(out = width) }
        lm_head(vocab = 100)
    }
}

// E023: `train { optimizer = ... }` given a strategy instead of an optimizer
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    train { steps = 100, optimizer = random(samples = 4) }
}

// E022: a filter ranks by `score` but no objective has a weight
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    objective {
        minimize val_loss
        minimize latency_ms
    }
    pipeline {
        random(samples = 4, steps = 10) |> keep top 2 by score
    }
}

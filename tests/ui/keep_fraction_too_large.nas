// E014: a pipeline filter that keeps more than 100% of the candidates
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    pipeline {
        random(samples = 8) |> keep 150% by val_loss
        final(steps = 100)
    }
}

// E023: a misspelt search strategy in the pipeline, with a did-you-mean
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    pipeline {
        randm(samples = 8) |> keep top 2 by val_loss
        final(steps = 100)
    }
}

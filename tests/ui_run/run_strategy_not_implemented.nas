// E036: a strategy that checks but cannot run yet (darts) is reported before any training.
// run: run
space s {
    param width: int = choice(16, 32)
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { batch = 4, optimizer = adamw(lr = 1e-3) }
    pipeline {
        random(samples = 2, steps = 2) |> keep top 1 by val_loss
        darts(over = width, epochs = 1)
    }
}

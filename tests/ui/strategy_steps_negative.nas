// E042: a layer's `steps` below one is refused by the checker, before any run begins,
// instead of training one step while the run's tables show the number written.
space s {
    param width: int = choice(16, 32)
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { batch = 4, optimizer = adamw(lr = 1e-3) }
    pipeline {
        random(samples = 2, steps = -3) |> keep top 1 by val_loss
        final(steps = 0)
    }
}

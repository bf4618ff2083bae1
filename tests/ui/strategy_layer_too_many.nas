// E042: a layer that would propose more candidates than a layer holds (1,000,000) is
// refused by the checker, before any run draws them all into memory.
space s {
    param width: int = choice(16, 32)
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { batch = 4, optimizer = adamw(lr = 1e-3) }
    pipeline {
        random(samples = 99999999999999, steps = 2) |> keep top 1 by val_loss
        evolution(population = 2000, generations = 1000, steps = 2) |> keep top 1 by val_loss
        grid(limit = 2000000, steps = 2)
    }
}

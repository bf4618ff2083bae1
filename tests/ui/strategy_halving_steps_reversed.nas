// E042: successive halving whose steps run backwards is reported by the checker, before
// any training.
space s {
    param width: int = choice(16, 32)
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { batch = 4, optimizer = adamw(lr = 1e-3) }
    pipeline {
        random(samples = 4, steps = 2) |> keep top 2 by val_loss
        successive_halving(min_steps = 90, max_steps = 10)
    }
}

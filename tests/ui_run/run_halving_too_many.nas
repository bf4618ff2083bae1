// E036: halving whose rungs would plan more trials than a layer holds is refused before
// anything is sampled (one with max_steps near 2^63 once filled the memory drawing its
// first rung; another hung).
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
        successive_halving(1, 9223372036854775807, 2) |> keep top 2 by val_loss
        hyperband(max_steps = 9223372036854775807, eta = 9223372036854775807, min_steps = 1)
        successive_halving(min_steps = 1, max_steps = 1048576, eta = 2)
    }
}

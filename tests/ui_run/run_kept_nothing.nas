// E037: a filter no candidate passes ends the run, naming the layer and why.
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
        random(samples = 2, steps = 2) |> keep where val_loss < 0.0
        final(steps = 4)
    }
}

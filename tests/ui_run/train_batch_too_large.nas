// E034: a batch too large to hold (this once overflowed `batch × length` and panicked).
// run: train
space s {
    graph {
        embedding(vocab = data.vocab, dim = 4)
        lm_head(vocab = data.vocab)
    }
    data = synthetic(task = copy, length = 8, vocab = 4)
    train { steps = 1, batch = 4611686018427387904 }
}

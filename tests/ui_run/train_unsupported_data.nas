// E033: training reads text corpora only, so far; a generated task is not read yet.
// run: train
space s {
    graph {
        embedding(vocab = data.vocab, dim = 16)
        lm_head(vocab = data.vocab)
    }
    data = synthetic(copy, length = 16, vocab = 8)
}

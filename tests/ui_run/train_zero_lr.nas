// E034: a learning rate of zero trains nothing.
// run: train
space s {
    graph {
        embedding(vocab = data.vocab, dim = 16)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { steps = 10, optimizer = adamw(lr = 0.0) }
}

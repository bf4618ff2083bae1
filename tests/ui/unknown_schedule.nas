// E009: `schedule` takes a learning-rate schedule: cosine, linear or constant.
space s {
    graph {
        embedding(vocab = data.vocab, dim = 16)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { steps = 10, schedule = cosin }
}

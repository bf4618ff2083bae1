// E007: a field the data source does not provide, with a did-you-mean
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = data.vocab_size, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare")
}

// W004: a constraint that depends on the data source, so the space cannot be counted
space s {
    param width = choice(64, 128)
    require width < data.vocab
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare")
}

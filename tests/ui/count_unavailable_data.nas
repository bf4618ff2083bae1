// W004: a repeat count that depends on the data source, so the space cannot be counted
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = data.vocab, dim = width)
        repeat (data.context / 64) { linear(out = width) }
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare")
}

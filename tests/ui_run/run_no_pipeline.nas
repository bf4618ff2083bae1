// E036: `nasc run` on a space without a pipeline.
// run: run
space s {
    graph {
        embedding(vocab = data.vocab, dim = 16)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
}

// E033: the corpus file the data source names does not exist.
// run: train
space s {
    graph {
        embedding(vocab = data.vocab, dim = 16)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("corpora/no_such_file.txt", context = 16)
}

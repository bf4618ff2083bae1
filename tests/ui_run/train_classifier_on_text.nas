// E029: a classifier's output is not next-token logits, so it cannot train on a text corpus.
// run: train
space s {
    graph {
        embedding(vocab = data.vocab, dim = 16)
        classifier(classes = 2)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
}

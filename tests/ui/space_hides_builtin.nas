// E008: a space named like a prelude data source hides it inside its file.
space listops {
    graph {
        embedding(vocab = data.vocab, dim = 8)
        classifier(classes = data.classes)
    }
    data = listops(length = 16)
}

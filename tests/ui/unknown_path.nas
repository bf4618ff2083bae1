// E007: a strategy's path argument names nothing in the space
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare")
    pipeline {
        darts(over = attension.kind, epochs = 3) |> keep best
    }
}

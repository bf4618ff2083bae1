// E022: `keep pareto` with a single objective
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare")
    objective { minimize val_loss }
    pipeline {
        random(samples = 8) |> keep pareto
    }
}

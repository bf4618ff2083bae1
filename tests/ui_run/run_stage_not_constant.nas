// E036: a stage argument that depends on the architecture cannot plan a run.
// run: run
space s {
    param n: int = choice(1, 2)
    graph {
        embedding(vocab = data.vocab, dim = 16)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { batch = 4, optimizer = adamw(lr = 1e-3) }
    pipeline {
        random(samples = n, steps = 2)
    }
}

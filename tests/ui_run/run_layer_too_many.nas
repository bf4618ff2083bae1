// E036: a layer whose count of candidates is past what a layer holds, in a way the
// checker's rules cannot decide (population × generations overflows), is still refused
// before anything is sampled.
// run: run
space s {
    param width: int = choice(16, 32)
    graph {
        embedding(vocab = data.vocab, dim = width)
        lm_head(vocab = data.vocab)
    }
    data = text_corpus("tiny_shakespeare", context = 16)
    train { batch = 4, optimizer = adamw(lr = 1e-3) }
    pipeline {
        evolution(population = 4294967296, generations = 4294967296, steps = 2)
    }
}

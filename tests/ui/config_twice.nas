// E022: a `train` block given twice, once inside the space and once at top level
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    train { steps = 100, batch = 32 }
}

train { steps = 200 }

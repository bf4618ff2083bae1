// E022: a top-level `train` block in a file with two spaces
space small {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

space large {
    param width = choice(256, 512)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

train { steps = 100, batch = 32 }

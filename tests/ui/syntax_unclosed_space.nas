// E001: a space whose closing brace is missing at the end of the file
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }

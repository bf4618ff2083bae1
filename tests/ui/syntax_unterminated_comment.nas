// E001: a block comment that is never closed
space s {
    param width = choice(64, 128)
    graph { embedding(vocab = 100, dim = width) lm_head(vocab = 100) }
}
/* this comment never ends

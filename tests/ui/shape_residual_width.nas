// E018: a residual connection whose body changes the width
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        residual { linear(out = choice(width, 2 * width)) }
        lm_head(vocab = 100)
    }
}

// E026: a function parameter whose type does not exist
fn mlp(hidden: integer) -> module {
    linear(out = hidden) >> act(kind = gelu)
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        mlp(hidden = 4 * width)
        lm_head(vocab = 100)
    }
}

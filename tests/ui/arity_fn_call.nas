// E010: a user function called without its required argument
fn mlp(hidden: int, out: int) -> module {
    linear(out = hidden) >> act(kind = gelu) >> linear(out = out)
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        mlp(hidden = 4 * width)
        lm_head(vocab = 100)
    }
}

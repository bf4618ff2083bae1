// W002: a `let` inside a function that hides the function's parameter
fn mlp(hidden: int) -> module {
    let hidden = 2 * hidden
    linear(out = hidden) >> act(kind = gelu)
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        mlp(hidden = width)
        lm_head(vocab = 100)
    }
}

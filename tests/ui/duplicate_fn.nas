// E006: two top-level functions with the same name
fn head() -> module {
    lm_head(vocab = 100)
}

fn head() -> module {
    layer_norm() >> lm_head(vocab = 100)
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        head()
    }
}

// E001 and E008: a syntax error in one item does not hide a semantic error in another
fn broken() -> module {
    linear(out = ) >> layer_norm()
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        layer_nrm()
        lm_head(vocab = 100)
    }
}

// E016: two functions that call each other
fn even_block() -> module {
    linear(out = 64) >> odd_block()
}

fn odd_block() -> module {
    layer_norm() >> even_block()
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        even_block()
        lm_head(vocab = 100)
    }
}

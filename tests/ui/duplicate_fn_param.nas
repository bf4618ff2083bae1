// E006: a function declares the same parameter twice
fn block(width: int, width: int) -> module {
    linear(out = width)
}

space s {
    graph { embedding(vocab = 100, dim = 64) block(width = 64) }
}

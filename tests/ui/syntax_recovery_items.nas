// E001: several broken items in one file are all reported; the valid space is still checked
fn block(width: int) -> module {
    linear(out = width) >>
}

enum norm_kind { layer, rms, }, }

builtin module gate(size: int = ) -> size

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

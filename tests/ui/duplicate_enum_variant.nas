// E006: an enum that lists the same variant twice
enum norm_kind { layer, rms, layer }

space s {
    param width = choice(64, 128)
    param norm : norm_kind = choice(layer, rms)
    graph {
        embedding(vocab = 100, dim = width)
        if norm == layer { layer_norm() } else { rms_norm() }
        lm_head(vocab = 100)
    }
}

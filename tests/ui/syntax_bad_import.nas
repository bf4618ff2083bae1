// E001: an import without a name list (`.{ ... }` or `.*`)
import std.transformer

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

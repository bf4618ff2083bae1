// E003: an import of a standard-library module that does not exist (a typo of `std.transformer`)
import std.transfomer.{ attention }

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        attention(heads = 2)
        lm_head(vocab = 100)
    }
}

// E007: a variant with arguments that the expected enum does not have
import std.transformer.{ attention }

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        attention(heads = 2, kind = sliding(window = 16))
        lm_head(vocab = 100)
    }
}

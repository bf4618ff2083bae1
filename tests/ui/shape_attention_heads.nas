// E018: attention heads that do not divide the model width for some architectures
import std.transformer.{ attention }

space s {
    param width = choice(64, 96, 128)
    param heads = choice(4, 6)
    graph {
        embedding(vocab = 100, dim = width)
        attention(heads = heads)
        lm_head(vocab = 100)
    }
}

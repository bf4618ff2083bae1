// E006: a name that is both imported and defined in the same file
import std.transformer.{ ffn }

fn ffn(hidden: int) -> module {
    linear(out = hidden) >> act(kind = relu)
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        ffn(hidden = 4 * width)
        lm_head(vocab = 100)
    }
}

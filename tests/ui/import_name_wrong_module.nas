// E005: importing `conv2d` from `std.transformer` (it lives in `std.vision`)
import std.transformer.{ ffn, conv2d }

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        ffn(hidden = 4 * width)
        lm_head(vocab = 100)
    }
}

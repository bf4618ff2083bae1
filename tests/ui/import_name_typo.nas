// E005: an imported name that `std.transformer` does not define, with a did-you-mean
import std.transformer.{ atention }

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

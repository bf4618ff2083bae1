// E006: two different items imported under the same name
import std.transformer.{ attention as block }
import std.vision.{ conv2d as block }

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

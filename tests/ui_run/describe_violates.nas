// E031: the values in the file violate a constraint of the space.
// run: describe {"width": 128, "heads": 3}
import std.transformer.{ attention }

space s {
    param width = choice(64, 128)
    param heads = choice(2, 3, 4)
    require width % heads == 0
    graph {
        embedding(vocab = 100, dim = width)
        attention(heads = heads)
        lm_head(vocab = 100)
    }
}

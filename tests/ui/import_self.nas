// E004: a file that imports itself
import import_self.{ helper }

fn helper() -> module {
    linear(out = 64)
}

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        helper()
        lm_head(vocab = 100)
    }
}

// E003: an import of a file that does not exist
import support.no_such_file.{ helper }

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
}

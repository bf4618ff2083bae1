// E004: an import cycle between two helper files (support/cycle_b.nas <-> support/cycle_c.nas)
import support.cycle_b.{ wide }

space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        wide()
        lm_head(vocab = 100)
    }
}

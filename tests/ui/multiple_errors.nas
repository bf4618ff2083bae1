// E007, E009, E011, E023: several semantic errors in one space are all reported together
space s {
    param width = choice(64, 128)
    let hidden = 4 * widht
    graph {
        embedding(vocab = 100, dim = width)
        linear(out = "wide")
        dropout(rate = 0.1, p = 0.2)
        lm_head(vocab = 100)
    }
    pipeline {
        rnd(samples = 8) |> keep best
    }
}

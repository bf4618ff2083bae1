// E036: a numeric stage argument that reads a hyperparameter, directly or through a
// `let`, is refused by the checker (the pipeline is planned before any architecture
// exists); a `let` of numbers alone is a constant and passes.
space s {
    param width = choice(64, 128)
    param depth = range(1, 3)
    let half = width / 2
    let budget = 4 * 8
    graph {
        embedding(vocab = 100, dim = width)
        repeat depth { linear(out = width) }
        lm_head(vocab = 100)
    }
    pipeline {
        random(samples = budget, steps = depth) |> keep top 4 by val_loss
        evolution(population = half, generations = 2) |> keep best
    }
}

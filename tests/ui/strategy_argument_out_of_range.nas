// E042: strategy arguments outside the ranges their `builtin` declarations require; a
// default out of range beside a written argument is reported at the one written, a rule
// over two arguments at the first it names; a value of the wrong type is E009 alone.
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        lm_head(vocab = 100)
    }
    pipeline {
        random(samples = 0) |> keep top 4 by val_loss
        evolution(population = 4, generations = 2, mutation = 1.5) |> keep top 2 by val_loss
        hyperband(max_steps = 20, eta = 1)
        successive_halving(min_steps = 300, max_steps = 100) |> keep top 1 by val_loss
        hyperband(max_steps = 200, eta = 1.5)
        final(steps = 0)
    }
}

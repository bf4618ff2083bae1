// An MLP as a sequence of layer tokens, as searched by a controller: each of up to four
// hidden layers picks its units and activation, with an optional dropout after it; the
// final layer is fixed by the task.

/// One hidden layer: units x activation, then maybe dropout.
fn hidden_layer() -> module {
    linear(out = choice(32, 64, 128, 256))
    act(kind = choice(relu, tanh, gelu))
    optional dropout(rate = choice(0.1, 0.3))
}

space mlp_layers {
    param depth = range(1, 4)

    graph {
        embedding(vocab = data.vocab, dim = 64)
        repeat depth { hidden_layer() }
        classifier(classes = data.classes, pool = mean)
    }

    data = listops(length = 500)
    train { steps = 400, batch = 64, optimizer = adam(lr = 0.001) }
    objective { maximize val_accuracy }
    pipeline {
        random(samples = 64, steps = 50)             |> keep top 16 by val_accuracy
        evolution(population = 16, generations = 10) |> keep top 4 by val_accuracy
        final(steps = 2000)
    }
}

// A small character-level language model: the space of the language sketch.
import std.transformer.{ attention, ffn, pre_norm }

space tiny_lm {
    // Independent hyperparameters: a domain each.
    param d_model : int   = choice(64, 96, 128, 256)
    param heads   : int   = choice(2, 4, 6, 8)
    param layers  : int   = range(2, 6)
    param dropout : float = uniform(0.0, 0.3)
    param lr      : float = log_uniform(1e-4, 3e-3)
    param act     : enum  = choice(gelu, relu, swiglu)

    // Dependent values: computed, never searched.
    let head_dim = d_model / heads
    let d_ff     = 4 * d_model

    // Constraints: counted exactly on hyperparameters, checked on metrics when sampling.
    require d_model % heads == 0
    require head_dim >= 16
    require params() <= 5M

    graph {
        embedding(vocab = data.vocab, dim = d_model)
        positions(kind = choice(learned, sinusoidal, rotary))
        repeat layers {
            pre_norm(attention(heads = heads, kind = choice(softmax, linear, local(window = choice(16, 32)))))
            pre_norm(ffn(hidden = d_ff, activation = act))
            optional dropout(rate = dropout)
        }
        layer_norm()
        lm_head(vocab = data.vocab)
    }

    data  = text_corpus("tiny_shakespeare", context = 128, split = 0.9)
    train { steps = 300, batch = 32, optimizer = adamw(lr = lr) }

    objective {
        minimize val_perplexity
        minimize latency_ms
    }

    pipeline {
        random(samples = 64, steps = 50)            |> keep top 16 by val_loss
        tpe(trials = 32, steps = 200)               |> keep pareto
        evolution(population = 16, generations = 8) |> keep top 4 by val_perplexity
        darts(over = attention.kind, epochs = 3)    |> keep best
        final(steps = 2000)
    }
}

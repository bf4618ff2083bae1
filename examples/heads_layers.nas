// How many heads and layers for a decoder-only model, trading perplexity against
// training time on a fixed amount of data (the RL heads-and-layers study).
import std.transformer.{ block }

space heads_layers {
    param heads  = choice(1, 2, 4, 6, 8, 16)
    param layers = range(1, 12)
    param width  = choice(128, 256, 512)

    let d_ff = 4 * width

    require width % heads == 0
    require width / heads >= 16
    require flops() <= 2G

    graph {
        embedding(vocab = data.vocab, dim = width)
        positions(kind = sinusoidal)
        repeat layers { block(heads = heads, hidden = d_ff) }
        layer_norm()
        lm_head(vocab = data.vocab, tied = true)
    }

    data  = word_corpus("ptb", context = 64)
    train { steps = 600, batch = 32, optimizer = adamw(lr = 0.0006), max_seconds = 120.0 }
    objective {
        minimize val_perplexity
        minimize wall_s
    }
    pipeline {
        grid(steps = 100)                            |> keep pareto
        hyperband(max_steps = 1200)                  |> keep top 3 by val_perplexity
        final(steps = 3000)
    }
}

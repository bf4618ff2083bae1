// A RoBERTa-style sentiment classifier on IMDB, searched in layers: a wide random start,
// Bayesian optimisation, then successive halving over training steps.
import std.transformer.{ block }

space imdb_classifier {
    param hidden       = choice(128, 256, 384, 512)
    param layers       = range(2, 8, 2)
    param heads        = choice(4, 8, 12)
    param ffn_ratio    = choice(2, 4)
    param dropout      = uniform(0.0, 0.3)
    param attn_dropout = uniform(0.0, 0.2, q = 0.05)
    param lr           = log_uniform(1e-5, 1e-3)
    param weight_decay = log_uniform(1e-4, 1e-1)
    param warmup       = choice(0, 100, 500)
    param batch        = choice(16, 32, 64)

    require hidden % heads == 0

    graph {
        embedding(vocab = data.vocab, dim = hidden)
        positions(kind = learned, max_len = 512)
        dropout(rate = dropout)
        repeat layers {
            block(heads = heads, hidden = ffn_ratio * hidden)
            dropout(rate = attn_dropout)
        }
        layer_norm()
        classifier(classes = data.classes, pool = choice(mean, first))
    }

    data  = text_classification("imdb", max_len = 256, tokens = words)
    train {
        steps = 1000
        batch = batch
        warmup = warmup
        optimizer = adamw(lr = lr, weight_decay = weight_decay)
    }
    objective { maximize val_accuracy }
    pipeline {
        random(samples = 48, steps = 100)                     |> keep 25% by val_accuracy
        bo(trials = 24, steps = 300, acquisition = ucb)       |> keep top 6 by val_accuracy
        successive_halving(min_steps = 300, max_steps = 2400) |> keep best
    }
}

// Which attention mechanism? Two spaces over the same decoder:
// `homogeneous` picks one mechanism for every layer (the DARTS-style search of the
// attention-mechanism paper), `heterogeneous` picks one per layer.
import std.transformer.{ attention, ffn, pre_norm, attention_kind }

/// A decoder block whose attention mechanism is given.
fn decoder_block(kind: attention_kind, heads: int, hidden: int) -> module {
    pre_norm(attention(heads = heads, kind = kind))
    pre_norm(ffn(hidden = hidden, activation = gelu))
}

space homogeneous {
    param kind   = choice(softmax, linear, cosformer, local(window = 32), performer(features = 64))
    param layers = range(2, 4)
    param heads  = choice(4, 8)

    graph {
        embedding(vocab = data.vocab, dim = 256)
        positions(kind = rotary)
        repeat layers { decoder_block(kind = kind, heads = heads, hidden = 1024) }
        layer_norm()
        lm_head(vocab = data.vocab, tied = true)
    }

    data = text_corpus("tiny_shakespeare", context = 256)
    train { steps = 500, batch = 16, optimizer = adamw(lr = 0.001) }
    objective { minimize val_loss }
    pipeline {
        darts(over = kind, epochs = 3) |> keep best by val_accuracy
        final(steps = 2000)
    }
}

space heterogeneous {
    param layers = range(2, 4)

    graph {
        embedding(vocab = data.vocab, dim = 256)
        positions(kind = rotary)
        repeat layers {
            decoder_block(
                kind = choice(softmax, linear, cosformer, local(window = choice(16, 64))),
                heads = 8,
                hidden = 1024,
            )
        }
        layer_norm()
        lm_head(vocab = data.vocab, tied = true)
    }

    data = text_corpus("tiny_shakespeare", context = 256)
    train { steps = 500, batch = 16, optimizer = adamw(lr = 0.001) }
    objective {
        minimize val_loss
        minimize latency_ms
    }
    pipeline {
        random(samples = 32, steps = 100)                       |> keep pareto
        evolution(population = 8, generations = 4, steps = 300) |> keep top 2 by val_loss
        final(steps = 2000)
    }
}

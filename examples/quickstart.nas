// The first pipeline to run: `nasc run examples/quickstart.nas` searches small
// character-level language models on the Shakespeare corpus shipped with nasc, on a laptop
// CPU in a few minutes. Sixteen random architectures train briefly; the four best by
// validation loss train again for longer; the table at the end ranks them.
import std.transformer.{ attention, ffn, pre_norm }

space quickstart {
    param width  : int = choice(32, 48, 64)
    param layers : int = range(1, 2)
    param lr     : float = log_uniform(1e-3, 6e-3)

    graph {
        embedding(vocab = data.vocab, dim = width)
        positions(kind = choice(learned, rotary))
        repeat layers {
            pre_norm(attention(heads = 4, kind = choice(softmax, linear, local(window = 16))))
            pre_norm(ffn(hidden = 2 * width, activation = choice(gelu, swiglu)))
        }
        layer_norm()
        lm_head(vocab = data.vocab, tied = true)
    }

    data  = text_corpus("tiny_shakespeare", context = 64, split = 0.9)
    train { batch = 16, warmup = 20, eval_every = 50, eval_batches = 4, optimizer = adamw(lr = lr) }

    objective { minimize val_loss }

    pipeline {
        random(samples = 16, steps = 120) |> keep top 4 by val_loss
        final(steps = 600)
    }
}

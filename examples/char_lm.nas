// A character-level language model small enough to train in seconds on a laptop CPU:
// `nasc train examples/char_lm.nas --sample --seed 1`.
import std.transformer.{ attention, ffn, pre_norm }

space char_lm {
    param width  : int = choice(48, 64)
    param layers : int = range(1, 3)
    param lr     : float = log_uniform(1e-3, 5e-3)

    graph {
        embedding(vocab = data.vocab, dim = width)
        positions(kind = choice(learned, rotary))
        repeat layers {
            pre_norm(attention(heads = 4, kind = choice(softmax, cosformer, local(window = 16))))
            pre_norm(ffn(hidden = 2 * width, activation = choice(gelu, swiglu)))
        }
        layer_norm()
        lm_head(vocab = data.vocab, tied = true)
    }

    data  = text_corpus("tiny_shakespeare", context = 64, split = 0.9)
    train { steps = 200, batch = 16, warmup = 20, eval_every = 50, eval_batches = 4, optimizer = adamw(lr = lr) }

    objective { minimize val_loss }
}

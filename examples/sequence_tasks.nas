// Which attention mechanism learns to sort? A small search over mechanisms and depth on
// a generated task: 16 random symbols, a separator, then the same symbols in sorted
// order, learned as next-token prediction and scored on the sorted half only.
// `nasc train examples/sequence_tasks.nas --sample --seed 2` trains one candidate in
// under a minute on a laptop CPU; `val_accuracy` is the share of answer tokens right.
import std.transformer.{ attention, ffn, pre_norm }

space sequence_tasks {
    param width  : int = choice(32, 64)
    param layers : int = range(1, 3)

    graph {
        embedding(vocab = data.vocab, dim = width)
        positions(kind = choice(learned, rotary))
        repeat layers {
            pre_norm(attention(heads = 4, kind = choice(softmax, linear, cosformer, local(window = 8))))
            pre_norm(ffn(hidden = 2 * width, activation = gelu))
        }
        layer_norm()
        lm_head(vocab = data.vocab)
    }

    data  = synthetic(sort, length = 32, vocab = 12)
    train { steps = 400, batch = 32, warmup = 40, eval_every = 100, optimizer = adamw(lr = 3e-3) }

    objective { maximize val_accuracy }
}

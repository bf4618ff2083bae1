// The reference model of `cargo bench --bench train` and of `benches/train_reference.py`:
// a 4-layer pre-norm transformer of width 128 on the shipped corpus, 32 × 128 tokens a step.
import std.transformer.{ attention, ffn, pre_norm }

space reference {
    graph {
        embedding(vocab = data.vocab, dim = 128)
        positions(kind = learned)
        repeat 4 {
            pre_norm(attention(heads = 4))
            pre_norm(ffn(hidden = 512, activation = gelu))
        }
        layer_norm()
        lm_head(vocab = data.vocab)
    }
    data  = text_corpus("tiny_shakespeare", context = 128)
    train { steps = 30, batch = 32, warmup = 3, eval_batches = 1, optimizer = adamw(lr = 1e-3) }
}

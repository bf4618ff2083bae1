// Sentiment of Rotten Tomatoes review snippets (8,530 sentences, positive or negative),
// read as words by a small bidirectional encoder. Fetch the data once with
// `nasc data fetch rotten_tomatoes`, then `nasc train examples/sentiment.nas --sample`.
import std.transformer.{ attention, ffn, pre_norm }

space sentiment {
    param width  : int = choice(64, 96)
    param layers : int = range(1, 3)
    param lr     : float = log_uniform(5e-4, 3e-3)

    graph {
        embedding(vocab = data.vocab, dim = width)
        positions(kind = learned, max_len = 64)
        repeat layers {
            pre_norm(attention(heads = 4, kind = choice(softmax, linear), causal = false))
            pre_norm(ffn(hidden = 2 * width, activation = gelu))
            dropout(rate = 0.1)
        }
        layer_norm()
        classifier(classes = data.classes, pool = choice(mean, first))
    }

    data  = text_classification("rotten_tomatoes", max_len = 48, test_split = 0.1, tokens = words)
    train { steps = 600, batch = 32, warmup = 60, eval_every = 100, eval_batches = 16, optimizer = adamw(lr = lr) }

    objective { maximize val_accuracy }
}

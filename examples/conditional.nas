// Conditional hyperparameters and sharing: what the count does when a choice is not taken.
//
// `rate` is named, so it is shared, but it is used only inside `optional` blocks: an
// architecture whose optionals are all off does not assign it. `gate` decides whether
// the gated branch exists at all; `gate_width` only matters when it does. `mix` is an
// auxiliary function: each call site gets its own copies of the choices inside it.

/// A residual mixing block with its own width and activation choices.
fn mix(width: int) -> module {
    residual {
        linear(out = choice(width, 2 * width))
        act(kind = choice(relu, gelu))
        linear(out = width)
    }
}

space conditional {
    param rate       : float = choice(0.1, 0.2, 0.3)
    param gate       : bool  = choice(true, false)
    param gate_width : int   = choice(32, 64)
    param depth      : int   = range(0, 2)

    graph {
        embedding(vocab = data.vocab, dim = 64)
        optional dropout(rate = rate)
        if gate {
            linear(out = gate_width)
            linear(out = 64)
        }
        repeat depth {
            mix(width = 64)
            optional dropout(rate = rate)
        }
        mix(width = 64)
        lm_head(vocab = data.vocab)
    }

    data = synthetic(copy, length = 32, vocab = 16)
}

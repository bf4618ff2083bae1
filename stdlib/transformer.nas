// Transformer building blocks: `import std.transformer.{ attention, ffn, pre_norm }`.

/// An attention mechanism.
enum attention_kind {
    softmax,
    linear,
    cosformer,
    local(window: int),
    performer(features: int),
}

/// Multi-head attention over the sequence. The model width must split into `heads`.
builtin module attention(heads: int, kind: attention_kind = softmax, causal: bool = true, dropout: float = 0.0) {
    require heads > 0
    require width % heads == 0 else "the model width must be divisible by `heads`"
}

/// Position-wise feed-forward block with `hidden` features.
builtin module ffn(hidden: int, activation: activation = gelu, dropout: float = 0.0) {
    require hidden > 0
}

/// `inner` with layer norm in front and a residual connection around both.
fn pre_norm(inner: module) -> module {
    residual(layer_norm() >> inner)
}

/// `inner` with a residual connection, followed by layer norm.
fn post_norm(inner: module) -> module {
    residual(inner) >> layer_norm()
}

/// A pre-norm transformer block: attention, then feed-forward.
fn block(heads: int, hidden: int, kind: attention_kind = softmax, activation: activation = gelu) -> module {
    pre_norm(attention(heads = heads, kind = kind))
    pre_norm(ffn(hidden = hidden, activation = activation))
}

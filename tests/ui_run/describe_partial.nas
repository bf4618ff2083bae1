// ok: `--partial` lists what a partial assignment leaves open. With two layers, each
// layer's optional exists; the dropout rate does not until an optional is on.
// run: describe --partial {"layers": 2}
space s {
    param layers : int = range(1, 4)
    param dim : int = choice(32, 64)
    param rate : float = uniform(0.0, 0.5)
    graph {
        embedding(vocab = data.vocab, dim = dim)
        repeat layers {
            residual { linear(out = dim) }
            optional dropout(rate = rate)
        }
        linear(out = choice(2, 4))
    }
    data = synthetic(copy, length = 16)
}

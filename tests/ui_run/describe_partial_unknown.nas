// ok: `--partial` sets apart a given key that no architecture has (misspelt) from one not reached yet.
// run: describe --partial {"layers": 2, "layers[1].optional": true, "rate": 0.1, "layers[7].optional": false, "dmi": 32}
space s {
    param layers : int = range(1, 8)
    param dim : int = choice(32, 64)
    param rate : float = uniform(0.0, 0.5)
    graph {
        embedding(vocab = data.vocab, dim = dim)
        repeat layers {
            residual { linear(out = dim) }
            optional dropout(rate = rate)
        }
    }
    data = synthetic(copy, length = 16)
}

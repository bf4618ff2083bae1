// E029: an assignment that cannot be built (`w = 8` divides by zero) is named in the help.
// run: sample -n 4 --seed 0
space s {
    param w = choice(8, 16)
    graph {
        embedding(vocab = 16, dim = 8)
        linear(out = w / (w - 8))
        lm_head(vocab = 16)
    }
}

// E021: a space without a graph
space s {
    param width = choice(64, 128)
    require width >= 64
}

// E001: `repeat -2` without parentheses does not parse (the count is a postfix expression)
space s {
    param width = choice(64, 128)
    graph {
        embedding(vocab = 100, dim = width)
        repeat -2 { linear(out = width) }
        lm_head(vocab = 100)
    }
}

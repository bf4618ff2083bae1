// E001: a block comment left open at the top of a file hides every item after it; the
// file used to check clean with nothing in it.
/* the comment left open
space s {
    param w = choice(8, 16)
    graph { embedding(vocab = 16, dim = w) }
}

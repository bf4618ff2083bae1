// E022: a `data` block in a file with no space at all
data = text_corpus("tiny_shakespeare")

// E029: a space's own `conv2d`, declared without the stdlib's `require stride > 0`, with a
// stride of 0 (this once divided by zero while sampling).
// run: sample -n 1 --seed 1
builtin module conv2d(filters: int, kernel: int = 3, stride: int = 1) -> filters

space s {
    graph {
        conv2d(filters = 4, stride = 0)
        classifier(classes = 10)
    }
    data = images("cifar10")
}

// E029: attention after a convolution gets an image, not a sequence.
// run: sample -n 2 --seed 1
import std.vision.{ conv2d }
import std.transformer.{ attention }

space s {
    param filters = choice(16, 32)
    graph {
        conv2d(filters = filters)
        attention(heads = 4)
        classifier(classes = 10)
    }
    data = images("cifar10")
}

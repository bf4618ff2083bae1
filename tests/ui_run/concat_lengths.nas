// E029: concat of an image pooled to half size and one at full size.
// run: sample -n 1 --seed 3
import std.vision.{ conv2d, max_pool2d, global_pool }

space s {
    param pool = choice(2, 4)
    graph {
        let a = input >> conv2d(filters = 8) >> max_pool2d(size = pool)
        let b = input >> conv2d(filters = 8)
        concat(a, b)
        global_pool()
        classifier(classes = 10)
    }
    data = images("cifar10")
}

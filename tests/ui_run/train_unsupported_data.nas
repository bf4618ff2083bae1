// E033: images are a data source the interpreter knows the shape of, but training does
// not read them yet.
// run: train
import std.vision.{ global_pool }

space s {
    graph {
        global_pool()
        classifier(classes = data.classes)
    }
    data = images("cifar10")
}

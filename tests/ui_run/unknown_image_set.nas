// E029: the data source names an image set nasc knows nothing about.
// run: sample -n 1 --seed 1
import std.vision.{ conv2d, global_pool }

space s {
    graph {
        conv2d(filters = 8)
        global_pool()
        classifier(classes = 10)
    }
    data = images("imagenet21k")
}

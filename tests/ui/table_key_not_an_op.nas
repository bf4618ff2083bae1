// E039: key hyperparameters of NAS-Bench-201 offering what the table never measured
import std.vision.{ conv2d, global_pool, zero }

enum edge { none, nor_conv_3x3, nor_conv_5x5 }

fn op(kind: edge) -> module {
    if kind == nor_conv_3x3 {
        conv2d(filters = 16, kernel = 3)
    } else if kind == nor_conv_5x5 {
        conv2d(filters = 16, kernel = 5)
    } else {
        zero()
    }
}

space s {
    param edge_1_0 = choice(none, nor_conv_3x3, nor_conv_5x5)
    param edge_2_0 = choice(none, nor_conv_3x3)
    param edge_2_1 = choice(none, nor_conv_3x3)
    param edge_3_0 = choice(none, nor_conv_3x3)
    param edge_3_1 = choice(none, nor_conv_3x3)
    param edge_3_2 = range(0, 1)
    graph {
        conv2d(filters = 16, kernel = 3)
        op(kind = edge_1_0) >> op(kind = edge_2_0) >> op(kind = edge_2_1)
        op(kind = edge_3_0) >> op(kind = edge_3_1)
        repeat edge_3_2 { zero() }
        global_pool()
        classifier(classes = data.classes)
    }
    data = nas_bench_201("imagenet")
}

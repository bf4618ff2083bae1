// E039: a space on NAS-Bench-201's table without two of the edges its key is made of
import std.vision.{ conv2d, global_pool, zero }

enum edge { none, nor_conv_3x3 }

fn op(kind: edge) -> module {
    if kind == nor_conv_3x3 { conv2d(filters = 16, kernel = 3) } else { zero() }
}

space s {
    param edge_1_0 = choice(none, nor_conv_3x3)
    param edge_2_0 = choice(none, nor_conv_3x3)
    param edge_2_1 = choice(none, nor_conv_3x3)
    param edge_3_0 = choice(none, nor_conv_3x3)
    graph {
        conv2d(filters = 16, kernel = 3)
        op(kind = edge_1_0) >> op(kind = edge_2_0) >> op(kind = edge_2_1) >> op(kind = edge_3_0)
        global_pool()
        classifier(classes = data.classes)
    }
    data = nas_bench_201("cifar100")
}

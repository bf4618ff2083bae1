// NAS-Bench-201 (Dong and Yang, ICLR 2020), written in `.nas`: one cell searched, then
// repeated through a fixed ResNet-like skeleton. Every one of the 15,625 architectures
// was trained and measured, so `nasc run` looks each up in the table (fetched once with
// `nasc data fetch nas_bench_201`) instead of training it, and a whole search takes
// seconds: `nasc bench-strategies examples/nas_bench_201.nas` compares strategies on it.
//
// The cell is a graph of four nodes: node 0 is the cell's input, node j the sum of one
// operation per earlier node i (the edge `edge_j_i`), and node 3 its output. Each of the
// six edges is one of five operations, so 5^6 = 15,625 cells. The table's key is the six
// operations in the order edge_1_0, edge_2_0, edge_2_1, edge_3_0, edge_3_1, edge_3_2.
import std.vision.{ conv2d, batch_norm, avg_pool2d, global_pool, zero }

/// The operations of an edge, named as in the table.
enum nb201_op { none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3 }

/// One edge's operation on `c` channels: nothing (zeros), the input itself, a
/// ReLU-convolution-batch-norm of kernel 1 or 3, or a 3 × 3 average pool (stride 1).
fn op(kind: nb201_op, c: int) -> module {
    if kind == nor_conv_3x3 {
        act(kind = relu) >> conv2d(filters = c, kernel = 3) >> batch_norm()
    } else if kind == nor_conv_1x1 {
        act(kind = relu) >> conv2d(filters = c, kernel = 1) >> batch_norm()
    } else if kind == avg_pool_3x3 {
        avg_pool2d(size = 3, stride = 1)
    } else if kind == skip_connect {
        identity()
    } else {
        zero()
    }
}

/// The cell: node 1 from node 0, node 2 from nodes 0 and 1, node 3 from all three.
fn cell(c: int, e10: nb201_op, e20: nb201_op, e21: nb201_op, e30: nb201_op, e31: nb201_op, e32: nb201_op) -> module {
    let n1 = input >> op(kind = e10, c = c)
    let n2 = add(input >> op(kind = e20, c = c), n1 >> op(kind = e21, c = c))
    add(input >> op(kind = e30, c = c), n1 >> op(kind = e31, c = c), n2 >> op(kind = e32, c = c))
}

/// The residual block between stages: half the resolution, `c` channels.
fn reduction(c: int) -> module {
    let a = input >> act(kind = relu) >> conv2d(filters = c, kernel = 3, stride = 2) >> batch_norm()
        >> act(kind = relu) >> conv2d(filters = c, kernel = 3) >> batch_norm()
    let b = input >> avg_pool2d(size = 2) >> conv2d(filters = c, kernel = 1)
    add(a, b)
}

space nb201 {
    param edge_1_0 = choice(none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)
    param edge_2_0 = choice(none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)
    param edge_2_1 = choice(none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)
    param edge_3_0 = choice(none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)
    param edge_3_1 = choice(none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)
    param edge_3_2 = choice(none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)

    graph {
        conv2d(filters = 16, kernel = 3) >> batch_norm()
        repeat 5 { cell(c = 16, e10 = edge_1_0, e20 = edge_2_0, e21 = edge_2_1, e30 = edge_3_0, e31 = edge_3_1, e32 = edge_3_2) }
        reduction(c = 32)
        repeat 5 { cell(c = 32, e10 = edge_1_0, e20 = edge_2_0, e21 = edge_2_1, e30 = edge_3_0, e31 = edge_3_1, e32 = edge_3_2) }
        reduction(c = 64)
        repeat 5 { cell(c = 64, e10 = edge_1_0, e20 = edge_2_0, e21 = edge_2_1, e30 = edge_3_0, e31 = edge_3_1, e32 = edge_3_2) }
        batch_norm() >> act(kind = relu)
        global_pool()
        classifier(classes = data.classes)
    }

    data = nas_bench_201("cifar10")
    objective { maximize val_accuracy }
    pipeline {
        random(samples = 50) |> keep top 10 by val_accuracy
        tpe(trials = 50)
    }
}

// The DeepArchitect poster's example space: an optional dropout, then two parallel
// repeated chains of convolutions joined by a concat. Both chains repeat `n` times (the
// count is shared explicitly); every convolution has its own filter choice, and the
// second chain shares one kernel size `ks` across all of its convolutions.
//
//   dropout:      off, or on with rate 0.25 or 0.5              -> 3
//   kernel size:  ks in {1, 3}, shared                          -> 2
//   per repetition: chain a (2 filters x 2 kernels) x chain b (2 filters) = 8
//   n in {1, 2, 4}: 8 + 8^2 + 8^4 = 4168
//   total: 3 x 2 x 4168 = 25008
import std.vision.{ conv2d, global_pool }

space deep_architect_poster {
    param n  : int = choice(1, 2, 4)
    param ks : int = choice(1, 3)

    graph {
        let x = input >> optional dropout(rate = choice(0.25, 0.5))
        let a = x >> repeat n { conv2d(filters = choice(32, 64), kernel = choice(1, 3)) }
        let b = x >> repeat n { conv2d(filters = choice(32, 64), kernel = ks) }
        concat(a, b)
        global_pool()
        classifier(classes = 10)
    }

    data = images("cifar10")
}

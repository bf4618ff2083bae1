// Convolutional blocks: `import std.vision.*`.

/// A 2-d convolution to `filters` channels.
builtin module conv2d(filters: int, kernel: int = 3, stride: int = 1) -> filters {
    require filters > 0 and kernel > 0 and stride > 0
}

/// Batch normalisation over channels.
builtin module batch_norm()

/// 2-d max pooling over windows of `size` × `size`, moved by `stride`: by the window's
/// size when `stride` is 0 (the default), so the image shrinks `size` times; with another
/// stride the image is padded as `conv2d`'s is (1 keeps its size).
builtin module max_pool2d(size: int = 2, stride: int = 0) {
    require size > 0 and stride >= 0
}

/// 2-d average pooling, windows and strides as in `max_pool2d`.
builtin module avg_pool2d(size: int = 2, stride: int = 0) {
    require size > 0 and stride >= 0
}

/// Outputs zeros of its input's shape: an edge that carries nothing (NAS-Bench-201's
/// `none` operation). No parameters, no operations.
builtin module zero()

/// Global average pooling over the spatial dimensions.
builtin module global_pool()

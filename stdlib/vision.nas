// Convolutional blocks: `import std.vision.*`.

/// A 2-d convolution to `filters` channels.
builtin module conv2d(filters: int, kernel: int = 3, stride: int = 1) -> filters {
    require filters > 0 and kernel > 0 and stride > 0
}

/// Batch normalisation over channels.
builtin module batch_norm()

/// 2-d max pooling.
builtin module max_pool2d(size: int = 2)

/// 2-d average pooling.
builtin module avg_pool2d(size: int = 2)

/// Global average pooling over the spatial dimensions.
builtin module global_pool()

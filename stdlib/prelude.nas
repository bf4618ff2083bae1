// The prelude: every name here is visible in every `.nas` file without an import.
// Native blocks are declared with `builtin`: the checker knows their signatures and shape
// rules, the model stage maps each to a burn module.

/// An activation function of a feed-forward block.
enum activation { relu, gelu, silu, tanh, swiglu }

/// How a classifier pools the sequence into one vector.
enum pooling { mean, first }

/// How the learning rate decays after warm-up: to a tenth of its peak at the last step,
/// along half a cosine or a straight line, or not at all.
enum lr_schedule { cosine, linear, constant }

/// The acquisition function of Bayesian optimisation.
enum acquisition { ei, ucb }

/// A generated sequence task, learned as next-token prediction: `length / 2` random
/// symbols, a separator, then their copy, reversal or sorted order; only the answer is
/// scored. Fresh examples every step.
enum synthetic_task { copy, reverse, sort }

/// How text is cut into tokens for classification: bytes (vocabulary 256) or words (the
/// 9,998 most frequent words of the training split, padding and `<unk>`: 10,000).
enum text_tokens { bytes, words }

/// Token embedding: token ids to vectors of `dim` features.
builtin module embedding(vocab: int, dim: int) -> dim {
    require vocab > 0 and dim > 0
}

/// Position information added to the token vectors.
builtin module positions(kind: position_kind = learned, max_len: int = 4096)

/// How positions enter the model.
enum position_kind { learned, sinusoidal, rotary, none }

/// A dense layer to `out` features.
builtin module linear(out: int, bias: bool = true) -> out {
    require out > 0
}

/// Zeroes a fraction `rate` of activations while training.
builtin module dropout(rate: float = 0.1) {
    require rate >= 0.0 and rate < 1.0
}

/// Layer normalisation over the features.
builtin module layer_norm(eps: float = 0.00001)

/// Root-mean-square normalisation over the features.
builtin module rms_norm(eps: float = 0.000001)

/// An element-wise activation.
builtin module act(kind: activation)

/// Passes its input through unchanged.
builtin module identity()

/// Language-model head: features to logits over `vocab` tokens.
builtin module lm_head(vocab: int, tied: bool = false) -> vocab

/// Classification head: pools the sequence, then features to logits over `classes`.
builtin module classifier(classes: int, pool: pooling = mean) -> classes {
    require classes >= 2
}

/// Random search: `samples` architectures drawn uniformly per decision.
builtin strategy random(samples: int, steps: int = 100) {
    require samples >= 1 else "draw at least one sample"
    require samples <= 1000000 else "every candidate is trained: a layer takes at most 1,000,000"
    require steps >= 1 else "train each candidate for at least one step"
}

/// Every architecture of a finite space, up to `limit`.
builtin strategy grid(steps: int = 100, limit: int = 1000) {
    require steps >= 1 else "train each candidate for at least one step"
    require limit >= 1 else "let the grid take at least one architecture"
    require limit <= 1000000 else "every candidate is trained: a layer takes at most 1,000,000"
}

/// Tree-structured Parzen estimator: the input survivors, then `trials` candidates, one
/// at a time, drawn at random until `startup` trials have a result.
builtin strategy tpe(trials: int, steps: int = 100, startup: int = 10) {
    require trials >= 1 else "ask for at least one trial"
    require trials <= 1000000 else "every candidate is trained: a layer takes at most 1,000,000"
    require steps >= 1 else "train each candidate for at least one step"
    require startup >= 0 else "give a count of random trials, 0 or more"
}

/// Bayesian optimisation with a Gaussian-process surrogate: the input survivors, then
/// `trials` candidates, one at a time, each the best of many by expected improvement
/// (`ei`) or an upper confidence bound (`ucb`).
builtin strategy bo(trials: int, steps: int = 100, acquisition: acquisition = ei) {
    require trials >= 1 else "ask for at least one trial"
    require trials <= 1000000 else "every candidate is trained: a layer takes at most 1,000,000"
    require steps >= 1 else "train each candidate for at least one step"
}

/// Regularised (aging) evolution: a first generation of `population` (the input survivors,
/// then random ones), then `generations - 1` more of `population` children each, by
/// tournament, crossover and mutation (each value redrawn with probability `mutation`);
/// the oldest members leave.
builtin strategy evolution(population: int, generations: int, steps: int = 100, mutation: float = 0.1) {
    require population >= 1 else "give the population at least one member"
    require generations >= 1 else "run at least one generation"
    require population * generations <= 1000000 else "every candidate is trained: a layer takes at most 1,000,000"
    require steps >= 1 else "train each candidate for at least one step"
    require mutation >= 0.0 and mutation <= 1.0 else "`mutation` is a probability, from 0 to 1"
}

/// Successive halving over training steps: the input survivors (or `eta^k` random
/// candidates in a first layer) trained for `min_steps`, the best `1/eta` again for `eta`
/// times as many steps, and so on up to `max_steps`.
builtin strategy successive_halving(min_steps: int, max_steps: int, eta: int = 3) {
    require min_steps >= 1 else "train each candidate for at least one step"
    require max_steps >= min_steps else "`max_steps` is the last rung: give at least `min_steps`"
    require eta >= 2 else "keep a fraction `1/eta` of each rung: `eta` of 2 or more"
}

/// Hyperband over training steps: brackets of successive halving from `max_steps` down
/// to `min_steps`, the first taking the input survivors before random candidates.
builtin strategy hyperband(max_steps: int, eta: int = 3, min_steps: int = 50) {
    require min_steps >= 1 else "train each candidate for at least one step"
    require max_steps >= min_steps else "`max_steps` is the last rung: give at least `min_steps`"
    require eta >= 2 else "keep a fraction `1/eta` of each rung: `eta` of 2 or more"
}

/// DARTS-style supernet over one choice, scored by masked validation accuracy.
builtin strategy darts(over: path, epochs: int = 3) {
    require epochs >= 1 else "train the supernet for at least one epoch"
}

/// Trains the survivors once more, for `steps`.
builtin strategy final(steps: int) {
    require steps >= 1 else "train each survivor for at least one step"
}

/// AdamW.
builtin optimizer adamw(lr: float, weight_decay: float = 0.01, beta1: float = 0.9, beta2: float = 0.999)

/// Adam.
builtin optimizer adam(lr: float, beta1: float = 0.9, beta2: float = 0.999)

/// Stochastic gradient descent.
builtin optimizer sgd(lr: float, momentum: float = 0.0)

/// Byte-level language modelling: the corpus shipped with nasc (`tiny_shakespeare`) or a
/// text file (a path relative to this file). The last `1 - split` of the text validates.
builtin dataset text_corpus(name: string, context: int = 128, split: float = 0.9)

/// Word-level language modelling, 10,000 words: Penn Treebank (`ptb`, fetched once with
/// `nasc data fetch ptb`) or a text file, whose last tenth of lines validates.
builtin dataset word_corpus(name: string, context: int = 64)

/// Text classification: `imdb` or `rotten_tomatoes` (fetched once with
/// `nasc data fetch imdb`), or a CSV file with `text` and `label` columns, read as bytes
/// or words (`tokens`). A seeded `test_split` of the examples validates.
builtin dataset text_classification(name: string, max_len: int = 256, test_split: float = 0.1, classes: int = 2, tokens: text_tokens = bytes)

/// Long Range Arena ListOps, generated with a fixed seed: nested MIN, MAX, MED and SM
/// over digits, at most `length` tokens, ten classes. A tenth of the examples validates.
builtin dataset listops(length: int = 500, examples: int = 10000)

/// A generated sequence task, learned as next-token prediction: `length / 2` random
/// symbols, a separator, then their copy, reversal or sorted order; only the answer is
/// scored. Fresh examples every step.
builtin dataset synthetic(task: synthetic_task, length: int = 64, vocab: int = 32)

/// An image classification set (`cifar10`).
builtin dataset images(name: string)

/// NAS-Bench-201's table of measured results (`cifar10`, `cifar100`, or `imagenet`:
/// ImageNet16-120), fetched once with `nasc data fetch nas_bench_201`. Architectures are
/// looked up by the operations of the cell's six edges, named params `edge_1_0`,
/// `edge_2_0`, `edge_2_1`, `edge_3_0`, `edge_3_1`, `edge_3_2` (see
/// `examples/nas_bench_201.nas`), not trained.
builtin dataset nas_bench_201(set: string = "cifar10")

/// Trainable parameters of the architecture.
builtin metric params: int static

/// Floating-point operations per example.
builtin metric flops: int static

/// Activation memory per example, in bytes.
builtin metric activation_memory: int static

/// Loss on the training batches.
builtin metric train_loss: float measured

/// Loss on the validation split.
builtin metric val_loss: float measured

/// Perplexity on the validation split.
builtin metric val_perplexity: float measured

/// Accuracy on the validation split.
builtin metric val_accuracy: float measured

/// Bits per character on the validation split.
builtin metric bits_per_char: float measured

/// Measured inference latency per batch.
builtin metric latency_ms: float measured

/// Training throughput.
builtin metric tokens_per_s: float measured

/// Peak memory while training, in bytes: what the GPU allocator held on `wgpu` and `cuda`,
/// the process's peak resident memory on the CPU.
builtin metric peak_mem_bytes: int measured

/// The process's peak resident memory while training, in bytes, on every backend.
builtin metric peak_host_mem_bytes: int measured

/// Wall-clock time of the trial.
builtin metric wall_s: float measured

/// The weighted sum of the objectives, each as a loss (a maximised metric counts negated),
/// when the objectives carry weights (`minimize latency_ms weight 0.05`); smaller is better.
/// The strategies minimise it unless their filter ranks by another metric.
builtin metric score: float measured

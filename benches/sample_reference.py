"""The reference for `cargo bench --bench sample`: ConfigSpace sampling the named
hyperparameters of `examples/tiny_lm.nas` (six: two integer choices, an integer range, a
uniform and a log-uniform float, a categorical), on one thread.

Prints one JSON line: configurations per second drawn one at a time (as a search loop asks
for one candidate after another, the way `nasc sample` builds them) and drawn 1,000 per
call (ConfigSpace's vectorised path), each over a window of `--seconds`.

Install: `pip install ConfigSpace`; the bench runs this with the Python named by
`NASC_CONFIGSPACE_PYTHON` (default `python3`).
"""

import argparse
import json
import time

import ConfigSpace
from ConfigSpace import Categorical, ConfigurationSpace, Float, Integer


def space(seed):
    cs = ConfigurationSpace(seed=seed)
    cs.add(
        [
            Categorical("d_model", [64, 96, 128, 256]),
            Categorical("heads", [2, 4, 6, 8]),
            Integer("layers", (2, 6)),
            Float("dropout", (0.0, 0.3)),
            Float("lr", (1e-4, 3e-3), log=True),
            Categorical("act", ["gelu", "relu", "swiglu"]),
        ]
    )
    return cs


def rate(draw, per_call, seconds):
    draw()  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        draw()
        n += per_call
    return n / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    cs = space(1)
    one = rate(lambda: cs.sample_configuration(), 1, args.seconds)
    batched = rate(lambda: cs.sample_configuration(1000), 1000, args.seconds)
    print(
        json.dumps(
            {
                "configspace": ConfigSpace.__version__,
                "params": len(list(cs.values())),
                "one_at_a_time_per_s": one,
                "batched_per_s": batched,
            }
        )
    )


if __name__ == "__main__":
    main()

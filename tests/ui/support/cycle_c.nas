// Helper of cycle_a.nas: imports cycle_b.nas, which imports this file: a cycle.
import cycle_b.{ wide }

fn narrow() -> module {
    linear(out = 64)
}

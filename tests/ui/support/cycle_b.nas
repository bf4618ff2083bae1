// Helper of cycle_a.nas: imports cycle_c.nas, which imports this file back.
import cycle_c.{ narrow }

fn wide() -> module {
    linear(out = 256) >> narrow()
}

//! The architecture IR: a concrete network with every value resolved.
//!
//! A graph is a list of nodes in topological order; each node is a builtin module with all
//! its arguments (defaults filled in), `concat`, `add` (a residual is an `add` of the
//! block's input and its output), or the `input`. Nodes that do not reach the output are
//! dropped and the rest numbered in the order the expansion made them: that is the
//! canonical form. The hash covers the canonical graph, the data source and the training
//! settings, and nothing else: two assignments that give the same network train the same
//! way and share a hash, whatever their hyperparameter paths.

use serde::Serialize;
use xxhash_rust::xxh3::xxh3_128;

use super::{assignment_json, Decision, Name, Value};

/// The shape of one example's tensor at a point of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// Token ids, `len` of them.
    Tokens {
        /// Sequence length.
        len: i64,
    },
    /// A sequence of `len` vectors of `width` features.
    Seq {
        /// Sequence length.
        len: i64,
        /// Features.
        width: i64,
    },
    /// An image of `channels` × `height` × `width`.
    Image {
        /// Channels.
        channels: i64,
        /// Height.
        height: i64,
        /// Width.
        width: i64,
    },
    /// One vector of `width` features.
    Vector {
        /// Features.
        width: i64,
    },
}

impl Shape {
    /// The feature width (channels of an image); `None` for token ids.
    pub fn features(&self) -> Option<i64> {
        match *self {
            Shape::Tokens { .. } => None,
            Shape::Seq { width, .. } | Shape::Vector { width } => Some(width),
            Shape::Image { channels, .. } => Some(channels),
        }
    }

    /// How many numbers one example's tensor holds.
    pub fn elements(&self) -> u128 {
        let n = match *self {
            Shape::Tokens { len } => len,
            Shape::Seq { len, width } => len.saturating_mul(width),
            Shape::Image {
                channels,
                height,
                width,
            } => channels.saturating_mul(height).saturating_mul(width),
            Shape::Vector { width } => width,
        };
        n.max(0) as u128
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Tokens { len } => write!(f, "tokens[{len}]"),
            Shape::Seq { len, width } => write!(f, "[{len}, {width}]"),
            Shape::Image {
                channels,
                height,
                width,
            } => write!(f, "[{channels}, {height}, {width}]"),
            Shape::Vector { width } => write!(f, "[{width}]"),
        }
    }
}

/// What one node costs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Trainable parameters.
    pub params: u64,
    /// Floating-point operations of the forward pass, per example.
    pub flops: u64,
    /// Bytes of activations kept for the backward pass, per example (f32).
    pub activation_memory: u64,
}

impl Cost {
    /// The sum of two costs, saturating.
    pub fn plus(self, o: Cost) -> Cost {
        Cost {
            params: self.params.saturating_add(o.params),
            flops: self.flops.saturating_add(o.flops),
            activation_memory: self.activation_memory.saturating_add(o.activation_memory),
        }
    }
}

/// One node of the graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Node {
    /// `input`, `concat`, `add`, or a builtin module's name.
    pub op: Name,
    /// The module's arguments, every one of them, in declaration order.
    #[serde(serialize_with = "ser_args")]
    pub args: Vec<(Name, Value)>,
    /// The nodes it reads, by index.
    #[serde(serialize_with = "ser_inputs")]
    pub inputs: Inputs,
    /// The shape it outputs.
    pub shape: Shape,
    /// What it costs.
    pub cost: Cost,
    /// Where in the space it comes from (not part of the hash).
    pub path: super::Path,
}

/// A node's inputs: one or two held inline, more on the heap.
pub type Inputs = smallvec::SmallVec<[u32; 2]>;

fn ser_inputs<S: serde::Serializer>(inputs: &Inputs, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(inputs.iter())
}

fn ser_args<S: serde::Serializer>(args: &[(Name, Value)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(args.len()))?;
    for (k, v) in args {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

/// A concrete architecture.
#[derive(Clone, Debug)]
pub struct Arch {
    /// The space it comes from.
    pub space: String,
    /// The decisions that made it.
    pub assignment: Vec<Decision>,
    /// The named hyperparameters and dependent values, as resolved (inactive ones absent).
    pub values: Vec<(Name, Value)>,
    /// The data source.
    pub data: Value,
    /// The training settings.
    pub train: Vec<(Name, Value)>,
    /// The graph, canonical: topological, the last node is the output.
    pub nodes: Vec<Node>,
    /// Static metrics: the sums over the nodes.
    pub metrics: Cost,
    /// The stable hash of graph, data and training settings.
    pub hash: u128,
}

impl Arch {
    /// The hash as 32 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:032x}", self.hash)
    }

    /// The architecture as JSON: what `nasc sample --format json` prints and
    /// `nasc describe --arch` reads back (it needs only `space` and `assignment`).
    pub fn to_json(&self) -> serde_json::Value {
        let pairs = |v: &[(Name, Value)]| {
            let mut m = serde_json::Map::new();
            for (k, x) in v {
                m.insert(k.to_string(), x.to_json());
            }
            serde_json::Value::Object(m)
        };
        serde_json::json!({
            "space": self.space,
            "hash": self.hash_hex(),
            "assignment": assignment_json(&self.assignment),
            "values": pairs(&self.values),
            "data": self.data.to_json(),
            "train": pairs(&self.train),
            "metrics": self.metrics,
            "graph": self.nodes,
        })
    }

    /// Writes [`Arch::to_json`] as compact text, byte for byte, without building its tree
    /// of `serde_json` values first, which cost most of `nasc sample --format json`'s
    /// time. Objects have their keys sorted, as `serde_json`'s map keeps them.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"assignment\":{");
        // Sorted by path; of two decisions at one path (none is expected) the later wins,
        // as a map insert would have it.
        let mut made: Vec<&Decision> = self.assignment.iter().collect();
        made.sort_by(|a, b| a.hyper.path.cmp(&b.hyper.path));
        let mut first = true;
        for (k, d) in made.iter().enumerate() {
            if made
                .get(k + 1)
                .is_some_and(|n| n.hyper.path == d.hyper.path)
            {
                continue;
            }
            json_key(out, &d.hyper.path, &mut first);
            json_raw(out, &d.hyper.domain.pick_json(&d.pick));
        }
        out.extend_from_slice(b"},\"data\":");
        json_value(out, &self.data);
        out.extend_from_slice(b",\"graph\":");
        json_array(out, &self.nodes, |out, n| {
            out.extend_from_slice(b"{\"args\":");
            json_pairs(out, &n.args);
            out.extend_from_slice(b",\"cost\":");
            json_cost(out, &n.cost);
            out.extend_from_slice(b",\"inputs\":");
            json_array(out, &n.inputs, json_raw);
            out.extend_from_slice(b",\"op\":");
            json_raw(out, &*n.op);
            out.extend_from_slice(b",\"path\":");
            json_raw(out, &*n.path);
            out.extend_from_slice(b",\"shape\":");
            json_shape(out, &n.shape);
            out.push(b'}');
        });
        out.extend_from_slice(b",\"hash\":\"");
        out.extend_from_slice(self.hash_hex().as_bytes());
        out.extend_from_slice(b"\",\"metrics\":");
        json_cost(out, &self.metrics);
        out.extend_from_slice(b",\"space\":");
        json_raw(out, self.space.as_str());
        out.extend_from_slice(b",\"train\":");
        json_pairs(out, &self.train);
        out.extend_from_slice(b",\"values\":");
        json_pairs(out, &self.values);
        out.push(b'}');
    }
}

/// `x` as compact JSON, through `serde_json` (so strings are escaped as it escapes them).
fn json_raw<T: Serialize + ?Sized>(out: &mut Vec<u8>, x: &T) {
    // Writing into a `Vec` cannot fail, and these types always serialise.
    let _ = serde_json::to_writer(&mut *out, x);
}

/// `items` as an array, each written by `item`.
fn json_array<'i, T: 'i>(
    out: &mut Vec<u8>,
    items: impl IntoIterator<Item = &'i T>,
    mut item: impl FnMut(&mut Vec<u8>, &'i T),
) {
    out.push(b'[');
    for (k, x) in items.into_iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        item(out, x);
    }
    out.push(b']');
}

/// The key `k` of an object, after a comma unless it is the first.
fn json_key(out: &mut Vec<u8>, k: &str, first: &mut bool) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    json_raw(out, k);
    out.push(b':');
}

/// [`Value::to_json`], written.
fn json_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Int(x) => json_raw(out, x),
        // `serde_json` has no number for a NaN or an infinity.
        Value::Float(x) if !x.is_finite() => out.extend_from_slice(b"null"),
        Value::Float(x) => json_raw(out, x),
        Value::Bool(b) => json_raw(out, b),
        Value::Str(s) => json_raw(out, s.as_str()),
        Value::Sym(n, p) if p.is_empty() => json_raw(out, &**n),
        Value::Sym(n, p) => {
            out.push(b'{');
            json_raw(out, &**n);
            out.push(b':');
            json_pairs(out, p);
            out.push(b'}');
        }
    }
}

/// Named values as an object, keys sorted (the later of two equal ones kept).
fn json_pairs(out: &mut Vec<u8>, pairs: &[(Name, Value)]) {
    let mut sorted: Vec<&(Name, Value)> = pairs.iter().collect();
    sorted.sort_by_key(|p| p.0.as_str());
    out.push(b'{');
    let mut first = true;
    for (k, (name, v)) in sorted.iter().map(|p| (&p.0, &p.1)).enumerate() {
        if sorted.get(k + 1).is_some_and(|n| *n.0 == **name) {
            continue;
        }
        json_key(out, name, &mut first);
        json_value(out, v);
    }
    out.push(b'}');
}

/// A [`Cost`] as `serde_json` writes its fields once they are sorted.
fn json_cost(out: &mut Vec<u8>, c: &Cost) {
    out.extend_from_slice(b"{\"activation_memory\":");
    json_raw(out, &c.activation_memory);
    out.extend_from_slice(b",\"flops\":");
    json_raw(out, &c.flops);
    out.extend_from_slice(b",\"params\":");
    json_raw(out, &c.params);
    out.push(b'}');
}

/// A [`Shape`] as `serde_json` writes it (tagged by `kind`) once its keys are sorted.
fn json_shape(out: &mut Vec<u8>, s: &Shape) {
    let field = |out: &mut Vec<u8>, key: &[u8], x: i64| {
        out.extend_from_slice(key);
        json_raw(out, &x);
    };
    match *s {
        Shape::Tokens { len } => {
            out.extend_from_slice(b"{\"kind\":\"tokens\"");
            field(out, b",\"len\":", len);
        }
        Shape::Seq { len, width } => {
            out.extend_from_slice(b"{\"kind\":\"seq\"");
            field(out, b",\"len\":", len);
            field(out, b",\"width\":", width);
        }
        Shape::Image {
            channels,
            height,
            width,
        } => {
            field(out, b"{\"channels\":", channels);
            field(out, b",\"height\":", height);
            out.extend_from_slice(b",\"kind\":\"image\"");
            field(out, b",\"width\":", width);
        }
        Shape::Vector { width } => {
            out.extend_from_slice(b"{\"kind\":\"vector\"");
            field(out, b",\"width\":", width);
        }
    }
    out.push(b'}');
}

/// Drops the nodes that do not reach `output` and renumbers the rest, keeping their
/// order; `output` becomes the last node.
pub fn canonical(nodes: Vec<Node>, output: u32) -> Vec<Node> {
    if output as usize + 1 == nodes.len() && all_read(&nodes) {
        // Every node but the last is read by a later one, and the last is the output: a
        // node none of whose readers reached the output would have a last such node,
        // whose readers come after it and so reach the output. All are live.
        return nodes;
    }
    let mut live = vec![false; nodes.len()];
    live[output as usize] = true;
    for i in (0..nodes.len()).rev() {
        if live[i] {
            for &j in &nodes[i].inputs {
                live[j as usize] = true;
            }
        }
    }
    if output as usize + 1 == nodes.len() && live.iter().all(|&l| l) {
        return nodes;
    }
    // Nodes made after the output cannot feed it; the output goes last.
    let mut order: Vec<usize> = (0..nodes.len())
        .filter(|&i| live[i] && i != output as usize)
        .collect();
    order.push(output as usize);
    let mut new_index = vec![u32::MAX; nodes.len()];
    for (k, &i) in order.iter().enumerate() {
        new_index[i] = k as u32;
    }
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    order
        .iter()
        .filter_map(|&i| slots[i].take())
        .map(|mut n| {
            for x in &mut n.inputs {
                *x = new_index[*x as usize];
            }
            n
        })
        .collect()
}

/// Whether every node but the last is an input of some node.
fn all_read(nodes: &[Node]) -> bool {
    const WORDS: usize = 16;
    if nodes.len() > WORDS * 64 {
        return false;
    }
    let mut read = [0u64; WORDS];
    for n in nodes {
        for &j in &n.inputs {
            if let Some(w) = read.get_mut(j as usize / 64) {
                *w |= 1 << (j % 64);
            }
        }
    }
    let last = nodes.len().saturating_sub(1);
    (0..last).all(|i| read[i / 64] & (1 << (i % 64)) != 0)
}

/// The stable hash of a canonical graph with its data source and training settings.
///
/// Everything is written into one buffer, then hashed once (xxh3-128): each string with
/// its length, each value with a tag, so that no two different inputs write the same bytes.
pub fn hash(nodes: &[Node], data: &Value, train: &[(Name, Value)]) -> u128 {
    thread_local! {
        /// The buffer of the last hash, reused: a sampler hashes every architecture.
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|cell| {
        let mut b = cell.take();
        b.clear();
        encode_nodes(&mut b, nodes);
        let h = finish(&mut b, data, train);
        cell.replace(b);
        h
    })
}

/// The bytes [`hash`] hashes, written into `b` (empty).
pub fn encode(b: &mut Vec<u8>, nodes: &[Node], data: &Value, train: &[(Name, Value)]) {
    encode_nodes(b, nodes);
    write_settings(b, data, train);
}

fn encode_nodes(b: &mut Vec<u8>, nodes: &[Node]) {
    // Room for a typical node (op, a few arguments and inputs) up front, so the writes
    // below rarely grow the buffer.
    b.reserve(64 + 96 * nodes.len());
    start(b);
    for n in nodes {
        write_node(b, n.op, &n.args, &n.inputs);
    }
}

/// Starts the bytes of a hash in `b` (empty): the format's tag. The nodes follow, each
/// written by [`write_node`] or a [`NodeBytes`], in canonical order; then [`finish`].
pub fn start(b: &mut Vec<u8>) {
    b.extend_from_slice(b"nasc-arch-1");
}

/// Writes one node of the graph.
#[inline]
pub fn write_node(b: &mut Vec<u8>, op: Name, args: &[(Name, Value)], inputs: &[u32]) {
    op.write_encoded(b);
    put_u64(b, args.len() as u64);
    for (k, v) in args {
        k.write_encoded(b);
        put_value(b, v);
    }
    put_u64(b, inputs.len() as u64);
    for i in inputs {
        put_u64(b, u64::from(*i));
    }
}

/// Writes the data source and the training settings after the nodes, and hashes it all.
pub fn finish(b: &mut Vec<u8>, data: &Value, train: &[(Name, Value)]) -> u128 {
    write_settings(b, data, train);
    xxh3_128(b)
}

fn write_settings(b: &mut Vec<u8>, data: &Value, train: &[(Name, Value)]) {
    b.extend_from_slice(b"data");
    put_value(b, data);
    b.extend_from_slice(b"train");
    for (k, v) in train {
        k.write_encoded(b);
        put_value(b, v);
    }
}

/// What [`write_node`] writes for the nodes of one call site of a builtin module,
/// prepared once: the bytes of the name, of every argument's name and of every argument
/// that is the same in every build come as a few ready runs of bytes, between which only
/// the arguments that vary and the input are written.
#[derive(Clone, Debug)]
pub struct NodeBytes {
    parts: Vec<Part>,
    /// Written after the last part, before the input: the count of inputs (one).
    tail: [u8; 8],
}

#[derive(Clone, Debug)]
enum Part {
    Bytes(Vec<u8>),
    /// The value of the argument at this position.
    Arg(usize),
}

impl NodeBytes {
    /// The bytes of module `op` whose arguments are named `names`, of which those given
    /// in `fixed` have the same value in every build.
    pub fn new(op: Name, names: &[Name], fixed: &[Option<Value>]) -> NodeBytes {
        let mut parts = Vec::new();
        let mut run = Vec::new();
        op.write_encoded(&mut run);
        put_u64(&mut run, names.len() as u64);
        for (k, (name, value)) in names.iter().zip(fixed).enumerate() {
            name.write_encoded(&mut run);
            match value {
                Some(v) => put_value(&mut run, v),
                None => {
                    parts.push(Part::Bytes(std::mem::take(&mut run)));
                    parts.push(Part::Arg(k));
                }
            }
        }
        if !run.is_empty() {
            parts.push(Part::Bytes(run));
        }
        NodeBytes {
            parts,
            tail: 1u64.to_le_bytes(),
        }
    }

    /// Writes the node with arguments `args` (the same names, in order; those fixed with
    /// their fixed values) reading `input`: the bytes [`write_node`] writes for it.
    #[inline]
    pub fn write(&self, b: &mut Vec<u8>, args: &[(Name, Value)], input: u32) {
        for p in &self.parts {
            match p {
                Part::Bytes(x) => b.extend_from_slice(x),
                Part::Arg(k) => {
                    if let Some((_, v)) = args.get(*k) {
                        put_value(b, v);
                    }
                }
            }
        }
        b.extend_from_slice(&self.tail);
        put_input(b, input);
    }
}

/// How many bytes [`NodeBytes::write`] writes for the input, last.
pub const INPUT_BYTES: usize = 8;

/// Writes a node's one input, as [`NodeBytes::write`] does last.
#[inline]
pub fn put_input(b: &mut Vec<u8>, input: u32) {
    put_u64(b, u64::from(input));
}

#[inline]
fn put_u64(b: &mut Vec<u8>, x: u64) {
    b.extend_from_slice(&x.to_le_bytes());
}

#[inline]
fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u64(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// A tag byte and eight bytes, in one write.
#[inline]
fn put_tagged(b: &mut Vec<u8>, tag: u8, bytes: [u8; 8]) {
    let mut a = [tag; 9];
    a[1..].copy_from_slice(&bytes);
    b.extend_from_slice(&a);
}

#[inline]
fn put_value(b: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Int(x) => put_tagged(b, b'i', x.to_le_bytes()),
        Value::Float(x) => {
            // -0.0 and 0.0 are the same setting.
            let x = if *x == 0.0 { 0.0f64 } else { *x };
            put_tagged(b, b'f', x.to_bits().to_le_bytes());
        }
        Value::Bool(x) => b.push(if *x { b't' } else { b'n' }),
        Value::Str(s) => {
            b.push(b's');
            put_str(b, s);
        }
        Value::Sym(n, p) => {
            b.push(b'y');
            n.write_encoded(b);
            put_u64(b, p.len() as u64);
            for (k, x) in p {
                k.write_encoded(b);
                put_value(b, x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(op: &str, inputs: Vec<u32>) -> Node {
        Node {
            op: op.into(),
            args: Vec::new(),
            inputs: inputs.into(),
            shape: Shape::Vector { width: 1 },
            cost: Cost::default(),
            path: "".into(),
        }
    }

    #[test]
    fn canonical_keeps_a_graph_whose_every_node_is_read() {
        let nodes = vec![
            node("input", vec![]),
            node("a", vec![0]),
            node("b", vec![0]),
            node("add", vec![1, 2]),
        ];
        let c = canonical(nodes.clone(), 3);
        assert_eq!(c, nodes);
        // A node read only by a dead one is dead too.
        let nodes = vec![
            node("input", vec![]),
            node("dead", vec![0]),
            node("deader", vec![1]),
            node("a", vec![0]),
        ];
        let c = canonical(nodes, 3);
        let ops: Vec<&str> = c.iter().map(|n| &*n.op).collect();
        assert_eq!(ops, ["input", "a"]);
    }

    #[test]
    fn canonical_drops_dead_nodes_and_renumbers() {
        let nodes = vec![
            node("input", vec![]),
            node("dead", vec![0]),
            node("a", vec![0]),
            node("b", vec![2]),
        ];
        let c = canonical(nodes, 3);
        let ops: Vec<&str> = c.iter().map(|n| &*n.op).collect();
        assert_eq!(ops, ["input", "a", "b"]);
        assert_eq!(c[2].inputs.as_slice(), [1]);
    }

    #[test]
    fn prepared_node_bytes_are_what_the_hash_writes() {
        let names: Vec<Name> = ["heads", "kind", "causal", "dropout"]
            .iter()
            .map(|n| Name::new(n))
            .collect();
        let args: Vec<(Name, Value)> = names
            .iter()
            .copied()
            .zip([
                Value::Int(4),
                Value::Sym("local".into(), vec![("window".into(), Value::Int(16))]),
                Value::Bool(true),
                Value::Float(0.0),
            ])
            .collect();
        let op = Name::new("attention");
        let mut expected = Vec::new();
        write_node(&mut expected, op, &args, &[7]);
        for fixed in [
            vec![None, None, Some(Value::Bool(true)), Some(Value::Float(0.0))],
            vec![Some(Value::Int(4)), None, None, None],
            vec![None, None, None, None],
        ] {
            let mut b = Vec::new();
            NodeBytes::new(op, &names, &fixed).write(&mut b, &args, 7);
            assert_eq!(b, expected);
        }
    }

    #[test]
    fn the_encoded_bytes_are_what_is_hashed() {
        let mut a = vec![node("input", vec![]), node("linear", vec![0])];
        a[1].args.push(("out".into(), Value::Int(8)));
        let data = Value::Sym("d".into(), Vec::new());
        let train = vec![("steps".into(), Value::Int(3))];
        let mut b = Vec::new();
        encode(&mut b, &a, &data, &train);
        assert!(b.starts_with(b"nasc-arch-1"));
        assert_eq!(xxh3_128(&b), hash(&a, &data, &train));
    }

    #[test]
    fn hash_ignores_paths_but_not_values() {
        let mut a = vec![node("input", vec![]), node("linear", vec![0])];
        a[1].args.push(("out".into(), Value::Int(8)));
        let mut b = a.clone();
        b[1].path = "elsewhere".into();
        let data = Value::Sym("d".into(), Vec::new());
        assert_eq!(hash(&a, &data, &[]), hash(&b, &data, &[]));
        b[1].args[0].1 = Value::Int(9);
        assert_ne!(hash(&a, &data, &[]), hash(&b, &data, &[]));
        let f0 = vec![("x".into(), Value::Float(0.0))];
        let f1 = vec![("x".into(), Value::Float(-0.0))];
        assert_eq!(hash(&a, &data, &f0), hash(&a, &data, &f1));
    }

    /// `write_json` writes what `to_json` gives, byte for byte, on values that need care:
    /// escapes, a NaN and an infinity (null), -0.0, a symbol with a payload whose keys
    /// come unsorted, repeated keys (the later wins), every shape and two decisions at one
    /// path.
    #[test]
    fn an_architecture_is_written_as_its_json_value_is() {
        use super::super::{Alt, Decision, Domain, Hyper, Pick};
        use std::rc::Rc;
        let sym = Value::Sym(
            "local".into(),
            vec![
                ("z".into(), Value::Int(-3)),
                ("a".into(), Value::Bool(true)),
            ],
        );
        let args = vec![
            ("rate".into(), Value::Float(-0.0)),
            ("name".into(), Value::Str("a \"quoted\"\n\u{7f} é".into())),
            ("nan".into(), Value::Float(f64::NAN)),
            ("inf".into(), Value::Float(f64::NEG_INFINITY)),
            ("kind".into(), sym.clone()),
            ("big".into(), Value::Float(1e300)),
            ("rate".into(), Value::Float(0.125)),
        ];
        let shapes = [
            Shape::Tokens { len: 8 },
            Shape::Seq { len: 8, width: 4 },
            Shape::Image {
                channels: 3,
                height: 32,
                width: 30,
            },
            Shape::Vector { width: 7 },
        ];
        let nodes: Vec<Node> = shapes
            .iter()
            .enumerate()
            .map(|(k, s)| Node {
                op: "lin\"ear".into(),
                args: args.clone(),
                inputs: (0..k as u32).collect(),
                shape: *s,
                cost: Cost {
                    params: u64::MAX,
                    flops: k as u64,
                    activation_memory: 0,
                },
                path: format!("a[{k}].b").into(),
            })
            .collect();
        let hyper = |path: &str, domain: Domain| Hyper {
            path: path.into(),
            named: false,
            domain: Rc::new(domain),
        };
        let choice = Domain::Choice {
            alts: vec![
                Alt {
                    label: "local(window = choice(16, 32))".into(),
                    value: None,
                },
                Alt {
                    label: "local".into(),
                    value: Some(sym),
                },
            ],
        };
        let ints = Domain::Int {
            lo: 1,
            hi: 9,
            step: 2,
        };
        let floats = Domain::Float {
            lo: 1e-4,
            hi: 1.0,
            log: true,
            q: None,
        };
        let assignment = vec![
            Decision {
                hyper: hyper("zeta", choice.clone()),
                pick: Pick::Index(1),
            },
            Decision {
                hyper: hyper("b.kind", choice),
                pick: Pick::Index(0),
            },
            Decision {
                hyper: hyper("layers", ints.clone()),
                pick: Pick::Int(3),
            },
            Decision {
                hyper: hyper("layers", ints),
                pick: Pick::Int(5),
            },
            Decision {
                hyper: hyper("lr", floats),
                pick: Pick::Float(0.000123),
            },
            Decision {
                hyper: hyper("a.optional", Domain::OnOff),
                pick: Pick::On(true),
            },
        ];
        let arch = Arch {
            space: "s\\t".into(),
            assignment,
            values: args.clone(),
            data: Value::Sym(
                "text".into(),
                vec![("corpus".into(), Value::Str("x".into()))],
            ),
            train: vec![
                ("steps".into(), Value::Int(i64::MIN)),
                ("lr".into(), Value::Float(3e-4)),
            ],
            nodes,
            metrics: Cost::default(),
            hash: u128::MAX / 3,
        };
        let mut written = Vec::new();
        arch.write_json(&mut written);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            arch.to_json().to_string()
        );
    }
}

// A developer check of the TextMate grammar (not part of CI): compiles every regular
// expression of `syntaxes/nas.tmLanguage.json` with Oniguruma (the engine VS Code uses),
// tokenizes every `.nas` file of `examples/` and `stdlib/` (and any files or folders given
// as arguments), requires each file to end outside every multi-line region, checks the
// scopes of sample lines, and prints the tokens of a few of them.
//
// Run it from `editors/vscode` after `npm install` (the two packages are dev dependencies):
//     node test/tokenize.js [more.nas | folder ...]
// or from anywhere, with the packages installed in a scratch folder:
//     NODE_PATH=/tmp/tm-check/node_modules node editors/vscode/test/tokenize.js
"use strict";

const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const extensionDir = path.resolve(__dirname, "..");
const repoRoot = path.resolve(extensionDir, "..", "..");
const grammarPath = path.join(extensionDir, "syntaxes", "nas.tmLanguage.json");

let failures = 0;

/** Records a failed check and says what it was. */
function fail(message) {
    failures += 1;
    console.error(`FAIL ${message}`);
}

/** Every regular expression of the grammar, with the JSON path where it stands. */
function grammarRegexes(node, where, out) {
    if (Array.isArray(node)) {
        node.forEach((child, i) => grammarRegexes(child, `${where}[${i}]`, out));
    } else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
            if (["match", "begin", "end", "while"].includes(key) && typeof value === "string") {
                out.push({ where: `${where}.${key}`, source: value });
            } else {
                grammarRegexes(value, `${where}.${key}`, out);
            }
        }
    }
    return out;
}

/** The `.nas` files under each argument (a file or a folder), sorted. */
function nasFiles(targets) {
    const files = [];
    for (const target of targets) {
        if (fs.statSync(target).isDirectory()) {
            for (const entry of fs.readdirSync(target).sort()) {
                const full = path.join(target, entry);
                if (fs.statSync(full).isDirectory()) {
                    files.push(...nasFiles([full]));
                } else if (entry.endsWith(".nas")) {
                    files.push(full);
                }
            }
        } else {
            files.push(target);
        }
    }
    return files;
}

/** The tokens of `text`, line by line: `{ line, text, scopes }`, and the final rule stack. */
function tokenize(grammar, text) {
    let stack = vsctm.INITIAL;
    const tokens = [];
    text.split(/\r?\n/).forEach((line, lineIdx) => {
        const res = grammar.tokenizeLine(line, stack);
        for (const token of res.tokens) {
            const piece = line.slice(token.startIndex, token.endIndex);
            tokens.push({
                line: lineIdx + 1,
                start: token.startIndex,
                end: token.endIndex,
                text: piece,
                scopes: token.scopes,
            });
        }
        stack = res.ruleStack;
    });
    return { tokens, stack };
}

/** The innermost scope of the first token whose text is `piece` (after `after` tokens). */
function scopeOf(tokens, piece, after = 0) {
    const found = tokens.filter((t) => t.text.trim() === piece)[after];
    return found ? found.scopes[found.scopes.length - 1] : undefined;
}

/**
 * The scope lists of the tokens that cover the first occurrence of `piece` in the one-line
 * `line` (a whole word when `piece` is a word), or undefined when `piece` is not there.
 */
function scopesCovering(tokens, line, piece) {
    const escaped = piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const pattern = /^\w+$/.test(piece) ? `(?<![\\w])${escaped}(?![\\w])` : escaped;
    const at = line.search(new RegExp(pattern));
    if (at < 0) {
        return undefined;
    }
    return tokens.filter((t) => t.start < at + piece.length && t.end > at).map((t) => t.scopes);
}

/** The keywords of the `keyword` rule of grammar/nas.pest. */
function pestKeywords() {
    const pest = fs.readFileSync(path.join(repoRoot, "grammar", "nas.pest"), "utf8");
    const rule = pest.match(/^keyword\s*=\s*@?\{([\s\S]*?)^\}/m);
    if (!rule) {
        throw new Error("no `keyword` rule in grammar/nas.pest");
    }
    return [...rule[1].matchAll(/"([a-z_]+)"/g)].map((m) => m[1]);
}

// Each sample: a line of `.nas`, then pairs of (token text, expected innermost scope prefix).
// A scope of `null` means "anything but a keyword": contextual words stay identifiers.
const SAMPLES = [
    ["param d_model : int = choice(64, 96, 128)", [
        ["param", "storage.type.param"], ["d_model", "entity.name.variable.hyperparameter"],
        ["int", "support.type.primitive"], ["choice", "support.function.domain"],
        ["64", "constant.numeric.integer"],
    ]],
    ["    param lr : float = log_uniform(1e-4, 3e-3)   // continuous", [
        ["log_uniform", "support.function.domain"], ["1e-4", "constant.numeric.float"],
        ["// continuous", "comment.line.double-slash"],
    ]],
    ["/// A residual block with `width` features.", [
        ["A residual block with", "comment.line.documentation"],
        ["`width`", "markup.inline.raw"],
    ]],
    ["let d_ff = 4 * d_model + 1_000", [
        ["let", "storage.type.let"], ["d_ff", "entity.name.variable"],
        ["*", "keyword.operator.arithmetic"], ["1_000", "constant.numeric.integer"],
    ]],
    ["require params() <= 5M and heads % 2 == 0 else \"too \\\"big\\\"\"", [
        ["require", "keyword.control"], ["params", "entity.name.function.call"],
        ["<=", "keyword.operator.comparison"], ["5M", "constant.numeric.integer"],
        ["and", "keyword.operator.logical"], ["%", "keyword.operator.arithmetic"],
        ["==", "keyword.operator.comparison"], ["else", "keyword.control"],
        ["\\\"", "constant.character.escape"], ["too", "string.quoted.double"],
    ]],
    ["data = text_corpus(\"tiny_shakespeare\", context = 128)", [
        ["data", "keyword.other"], ["text_corpus", "entity.name.function.call"],
        ["tiny_shakespeare", "string.quoted.double"], ["context", "variable.parameter"],
    ]],
    ["embedding(vocab = data.vocab, dim = d_model) >> dropout(rate = 0.1)", [
        ["data", "variable.language.data"], [">>", "keyword.operator.sequence"],
        ["0.1", "constant.numeric.float"], ["rate", "variable.parameter"],
    ]],
    ["random(samples = 16, steps = 120) |> keep top 4 by val_loss", [
        ["|>", "keyword.operator.pipe"], ["keep", "keyword.other.keep"],
        ["top", "keyword.other.filter"], ["by", "keyword.other.filter"],
        ["val_loss", "variable.other.metric"],
    ]],
    ["bo(trials = 24) |> keep 25% by val_accuracy", [
        ["25", "constant.numeric.integer"], ["%", "keyword.operator.arithmetic"],
    ]],
    ["tpe(trials = 8) |> keep where val_loss < 2.5", [
        ["where", "keyword.other.filter"], ["<", "keyword.operator.comparison"],
    ]],
    ["objective { minimize val_loss  minimize latency_ms weight 0.02 }", [
        ["objective", "keyword.other"], ["minimize", "keyword.other.objective"],
        ["latency_ms", "variable.other.metric"], ["weight", "keyword.other.weight"],
    ]],
    ["builtin module attention(heads: int, kind: attention_kind = softmax) -> width {", [
        ["builtin", "storage.type.builtin"], ["module", "storage.modifier.builtin-kind"],
        ["attention", "entity.name.function"], ["heads", "variable.parameter"],
        ["attention_kind", "entity.name.type"], ["->", "punctuation.separator.arrow"],
    ]],
    ["builtin metric params: int static", [
        ["metric", "storage.modifier.builtin-kind"], ["static", "storage.modifier.metric-kind"],
    ]],
    ["fn pre_norm(inner: module) -> module {", [
        ["fn", "storage.type.function"], ["pre_norm", "entity.name.function"],
        ["inner", "variable.parameter"], ["module", "support.type.primitive"],
    ]],
    ["enum activation { relu, gelu, local(window: int) }", [
        ["enum", "storage.type.enum"], ["activation", "entity.name.type.enum"],
        ["relu", "variable.other.enummember"], ["window", "variable.parameter"],
    ]],
    ["import std.transformer.{ attention as attn, ffn }", [
        ["import", "keyword.control.import"], ["std", "entity.name.namespace"],
        ["transformer", "entity.name.namespace"], ["as", "keyword.control.import"],
    ]],
    ["space tiny_lm {", [["space", "storage.type.space"], ["tiny_lm", "entity.name.type.space"]]],
    ["repeat layers { optional residual { identity() } }", [
        ["repeat", "keyword.control"], ["optional", "keyword.control"], ["residual", "keyword.control"],
    ]],
    ["let a = if gate { true } else { false }", [
        ["if", "keyword.control"], ["true", "constant.language.boolean"],
    ]],
    ["let n1 = input >> op(kind = e10, c = c)", [
        ["input", "variable.language.input"], ["e10", null],
    ]],
    // Contextual words are keywords only in their place.
    ["param weight_decay = log_uniform(1e-4, 1e-1)", [["weight_decay", null]]],
    ["let top = by + best * where - pareto", [
        ["top", null], ["by", null], ["best", null], ["where", null], ["pareto", null],
    ]],
];

async function main() {
    const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
    await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
    const onigLib = Promise.resolve({
        createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
        createOnigString: (text) => new oniguruma.OnigString(text),
    });

    // 1. Every regular expression compiles, reached by a file or not.
    const rawJson = JSON.parse(fs.readFileSync(grammarPath, "utf8"));
    const regexes = grammarRegexes(rawJson, "$", []);
    for (const { where, source } of regexes) {
        try {
            new oniguruma.OnigScanner([source]).dispose();
        } catch (err) {
            fail(`${where}: ${JSON.stringify(source)} does not compile: ${err.message}`);
        }
    }
    console.log(`compiled ${regexes.length} regular expressions`);

    const registry = new vsctm.Registry({
        onigLib,
        loadGrammar: async (scopeName) =>
            scopeName === "source.nas"
                ? vsctm.parseRawGrammar(fs.readFileSync(grammarPath, "utf8"), grammarPath)
                : null,
    });
    const grammar = await registry.loadGrammar("source.nas");
    if (!grammar) {
        throw new Error("the grammar did not load");
    }

    // 2. Every file tokenizes and ends outside every region (no unclosed comment, enum, ...).
    const targets = process.argv.length > 2
        ? process.argv.slice(2)
        : [path.join(repoRoot, "examples"), path.join(repoRoot, "stdlib")];
    const files = nasFiles(targets);
    let lines = 0;
    let tokenCount = 0;
    for (const file of files) {
        const text = fs.readFileSync(file, "utf8");
        const { tokens, stack } = tokenize(grammar, text);
        lines += text.split("\n").length;
        tokenCount += tokens.length;
        if (stack.depth !== 1) {
            fail(`${path.relative(repoRoot, file)} ends inside a region (rule stack depth ${stack.depth})`);
        }
        const untagged = tokens.filter((t) => t.text.trim() !== "" && t.scopes.length === 1);
        for (const t of untagged.slice(0, 3)) {
            fail(`${path.relative(repoRoot, file)}:${t.line}: \`${t.text}\` has no scope but source.nas`);
        }
    }
    console.log(`tokenized ${files.length} files, ${lines} lines, ${tokenCount} tokens`);

    // 3. Every keyword of grammar/nas.pest, standing alone, gets a scope that is not an identifier's.
    const keywords = pestKeywords();
    if (keywords.length < 20) {
        fail(`only ${keywords.length} keywords read from grammar/nas.pest`);
    }
    for (const word of keywords) {
        const scope = scopeOf(tokenize(grammar, word).tokens, word);
        if (!scope || scope.startsWith("variable.other") || scope === "source.nas") {
            fail(`keyword \`${word}\` gets ${scope}`);
        }
    }
    console.log(`checked ${keywords.length} keywords of grammar/nas.pest`);

    // 4. Sample lines get the scopes they should.
    let checks = 0;
    for (const [line, expected] of SAMPLES) {
        const { tokens } = tokenize(grammar, line);
        for (const [piece, prefix] of expected) {
            checks += 1;
            const covering = scopesCovering(tokens, line, piece);
            const shown = covering ? covering.map((scopes) => scopes.slice(1).join(" ")).join(" | ") : "nothing";
            if (!covering || covering.length === 0) {
                fail(`\`${piece}\` is not in \`${line}\``);
            } else if (prefix === null) {
                // Not a keyword: no token of it carries a keyword or storage scope.
                if (covering.some((scopes) => scopes.some((s) => /^(keyword|storage)\./.test(s)))) {
                    fail(`\`${piece}\` in \`${line}\`: expected an identifier, got ${shown}`);
                }
            } else if (!covering.every((scopes) => scopes.some((s) => s.startsWith(prefix)))) {
                // Every token of the piece carries the expected scope (`5M` is two tokens).
                fail(`\`${piece}\` in \`${line}\`: expected ${prefix}, got ${shown}`);
            }
        }
    }
    console.log(`checked ${checks} tokens of ${SAMPLES.length} sample lines`);

    // A block comment spans lines and closes.
    const block = tokenize(grammar, "/* one\n   two */ param x = 1");
    if (scopeOf(block.tokens, "two") !== "comment.block.nas" || scopeOf(block.tokens, "param") !== "storage.type.param.nas") {
        fail("a block comment over two lines does not close where it should");
    }

    // 5. Show what a few lines look like.
    const shown = [SAMPLES[0][0], SAMPLES[2][0], SAMPLES[4][0], SAMPLES[7][0]];
    for (const line of shown) {
        console.log(`\n${line}`);
        for (const t of tokenize(grammar, line).tokens) {
            if (t.text.trim() !== "") {
                console.log(`  ${JSON.stringify(t.text).padEnd(28)} ${t.scopes.slice(1).join(" ")}`);
            }
        }
    }

    if (failures > 0) {
        console.error(`\n${failures} check(s) failed`);
        process.exit(1);
    }
    console.log("\nall checks passed");
}

main().catch((err) => {
    console.error(err);
    process.exit(1);
});

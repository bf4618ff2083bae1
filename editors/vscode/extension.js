// The VS Code side of nasc: starts `<nas.server.path> lsp` as a language server over stdio
// for `.nas` files and stops it when the extension is deactivated. Plain JavaScript, so
// the folder works as an extension after `npm install`, with no build step.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

/** The running client, or undefined before activation and after deactivation. */
let client;

/** The `nasc` executable from the setting `nas.server.path` (default `nasc`). */
function serverPath() {
    const configured = vscode.workspace.getConfiguration("nas").get("server.path");
    return typeof configured === "string" && configured.trim() !== "" ? configured.trim() : "nasc";
}

/** A client that runs `<path> lsp` over stdio for the `nas` documents of the window. */
function createClient() {
    const command = serverPath();
    const executable = { command, args: ["lsp"], transport: TransportKind.stdio };
    const serverOptions = { run: executable, debug: executable };
    const clientOptions = {
        documentSelector: [
            { scheme: "file", language: "nas" },
            { scheme: "untitled", language: "nas" },
        ],
    };
    return new LanguageClient("nas", "nas", serverOptions, clientOptions);
}

/** Starts a fresh client; says in a message when the server cannot be started. */
async function startClient() {
    client = createClient();
    try {
        await client.start();
    } catch (err) {
        const message = err && err.message ? err.message : String(err);
        vscode.window.showErrorMessage(
            `nas: could not start \`${serverPath()} lsp\` (${message}). ` +
                "Install nasc (`cargo install --path .`) or set `nas.server.path`."
        );
    }
}

/** Stops the running client, if any. */
async function stopClient() {
    const running = client;
    client = undefined;
    if (running) {
        try {
            await running.stop();
        } catch (_err) {
            // The server was not running (it failed to start, or exited): nothing to stop.
        }
    }
}

/** Called by VS Code when the first `nas` document opens. */
async function activate(context) {
    context.subscriptions.push(
        vscode.commands.registerCommand("nas.restartServer", async () => {
            await stopClient();
            await startClient();
        }),
        vscode.workspace.onDidChangeConfiguration(async (event) => {
            if (event.affectsConfiguration("nas.server.path")) {
                await stopClient();
                await startClient();
            }
        })
    );
    await startClient();
}

/** Called by VS Code on shutdown or when the extension is disabled. */
function deactivate() {
    return stopClient();
}

module.exports = { activate, deactivate };

//! `nasc lsp`: a Language Server Protocol server over standard input and output.
//!
//! The transport (framing, JSON-RPC, the initialize handshake) is rust-analyzer's
//! `lsp-server`; the protocol's types are `lsp-types`. The server's loop runs on one
//! thread: it keeps the text of every open document, and after a change it waits until the
//! document has been quiet for the debounce interval (30 ms unless the client's
//! `initializationOptions` say `{"debounceMs": N}`) before checking it again and
//! publishing its diagnostics, so a burst of keystrokes costs one check. A request about
//! a document (hover, completion, ...) checks it at once if it changed since. Checking is
//! exactly `nasc check` (see [`analysis`]); open files are read from the editor's unsaved
//! text when another file imports them.
//!
//! Each document keeps what counting and the shape rules found for its spaces, so an edit
//! re-analyses only the space it touched. When that space was slow to analyse last time
//! (over 25 ms, `deferMs`), the loop publishes everything else at once and a second thread
//! (`worker.rs`) finishes the complete analysis, after which the document is published
//! again: typing never waits for a slow space.
//!
//! The standard library has no files on disk; to let the editor go to a definition in it,
//! its text is written once to a read-only copy under the system's temporary directory.
//!
//! Nothing a client sends can stop the server: malformed parameters get an error
//! response, and a panic while answering (a bug) is caught, logged to standard error and
//! answered as an internal error.

// `Uri` caches parts of its parse in cells, but hashes and compares by its text alone,
// which never changes: it is a sound map key.
#![allow(clippy::mutable_key_type)]

pub mod analysis;
pub mod complete;
pub mod index;
pub mod text;
mod worker;

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{self as note, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::{
    CompletionOptions, Diagnostic as LspDiagnostic, DiagnosticRelatedInformation,
    DiagnosticSeverity, DocumentSymbol, GotoDefinitionResponse, HoverContents,
    HoverProviderCapability, Location, MarkupContent, MarkupKind, NumberOrString, OneOf,
    PublishDiagnosticsParams, ServerCapabilities, ServerInfo, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextEdit, Uri, WorkspaceEdit,
};

use self::analysis::{Analysis, Symbol};
use self::text::{path_of, uri_of, LineIndex};
use crate::diag::{FileId, Severity, Span};

/// How long a document must be quiet after a change before it is checked again.
const DEBOUNCE: Duration = Duration::from_millis(30);

/// A space whose counting and shape rules took longer than this is left to the worker
/// thread after an edit (`initializationOptions: {"deferMs": N}` changes it).
const DEFER_OVER: Duration = Duration::from_millis(25);

/// Runs the server on standard input and output until the client says `exit`; the exit
/// code.
pub fn main() -> i32 {
    let (connection, threads) = Connection::stdio();
    let code = match serve(&connection) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("nasc lsp: {e}");
            1
        }
    };
    drop(connection);
    if let Err(e) = threads.join() {
        eprintln!("nasc lsp: {e}");
    }
    code
}

/// The capabilities the server announces.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(
            TextDocumentSyncKind::INCREMENTAL,
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_highlight_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
        signature_help_provider: Some(lsp_types::SignatureHelpOptions {
            trigger_characters: Some(vec!["(".into(), ",".into()]),
            ..lsp_types::SignatureHelpOptions::default()
        }),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), "(".into(), ",".into(), "{".into()]),
            ..CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// Serves one client on `connection`: the handshake, then messages until `exit`.
pub fn serve(connection: &Connection) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let init = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo { name: "nasc".into(), version: Some(env!("CARGO_PKG_VERSION").into()) },
    });
    let (id, params) = connection.initialize_start()?;
    connection.initialize_finish(id, init)?;
    let debounce = params
        .pointer("/initializationOptions/debounceMs")
        .and_then(serde_json::Value::as_u64)
        .map_or(DEBOUNCE, Duration::from_millis);
    let defer_over = params
        .pointer("/initializationOptions/deferMs")
        .and_then(serde_json::Value::as_u64)
        .map_or(DEFER_OVER, Duration::from_millis);
    // Files changed outside the editor (an imported file pulled from version control)
    // must reach the documents that import them: ask the client to report `.nas` files
    // changing on disk, when it can be asked.
    let can_watch = params
        .pointer("/capabilities/workspace/didChangeWatchedFiles/dynamicRegistration")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if can_watch {
        let register = lsp_types::RegistrationParams {
            registrations: vec![lsp_types::Registration {
                id: "nasc-watch-nas-files".into(),
                method: note::DidChangeWatchedFiles::METHOD.into(),
                register_options: Some(
                    serde_json::json!({ "watchers": [{ "globPattern": "**/*.nas" }] }),
                ),
            }],
        };
        let request = Request::new(
            lsp_server::RequestId::from("nasc-watch-nas-files".to_string()),
            req::RegisterCapability::METHOD.into(),
            register,
        );
        connection.sender.send(request.into())?;
    }
    let mut server = Server {
        connection,
        docs: HashMap::new(),
        debounce,
        defer_over,
        worker: worker::Worker::spawn(),
    };
    server.run()
}

/// An open document.
struct Doc {
    text: String,
    version: i32,
    /// The check of the current text, once made.
    analysis: Option<Rc<Analysis>>,
    /// When its diagnostics are due to be published again.
    due: Option<Instant>,
    /// The other files (its imports) it published diagnostics for last time.
    published: Vec<Uri>,
    /// What its spaces' counting and shape rules found, for the next check.
    cache: analysis::SpaceCache,
    /// Its file's canonical path, for documents that import it (found once, at open).
    canonical: Option<PathBuf>,
}

struct Server<'c> {
    connection: &'c Connection,
    docs: HashMap<Uri, Doc>,
    debounce: Duration,
    /// A space that took longer than this to analyse is analysed by the worker after an
    /// edit, while the rest is published at once.
    defer_over: Duration,
    worker: worker::Worker,
}

impl Server<'_> {
    fn run(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        loop {
            let now = Instant::now();
            let next = self.docs.values().filter_map(|d| d.due).min();
            let wait = next.map_or(Duration::from_secs(3600), |t| {
                t.saturating_duration_since(now)
            });
            let done = self.worker.done.clone();
            crossbeam_channel::select! {
                recv(self.connection.receiver) -> msg => match msg {
                    Ok(m) => {
                        if self.message(m)? {
                            return Ok(());
                        }
                    }
                    Err(_) => return Ok(()),
                },
                recv(done) -> d => {
                    if let Ok(d) = d {
                        self.completed(d);
                    }
                }
                default(wait) => self.publish_due()?,
            }
        }
    }

    /// Handles one message from the client; `true` when the server must stop.
    fn message(&mut self, m: Message) -> Result<bool, Box<dyn std::error::Error + Send + Sync>> {
        match m {
            Message::Request(request) => {
                if self.connection.handle_shutdown(&request)? {
                    return Ok(true);
                }
                let id = request.id.clone();
                let response = catch_unwind(AssertUnwindSafe(|| self.request(request)))
                    .unwrap_or_else(|_| {
                        eprintln!(
                            "nasc lsp: a request panicked (a bug); answered as an internal error"
                        );
                        Response::new_err(
                            id,
                            ErrorCode::InternalError as i32,
                            "internal error in nasc".into(),
                        )
                    });
                self.connection.sender.send(response.into())?;
            }
            Message::Notification(n) => {
                if n.method == note::Exit::METHOD {
                    return Ok(true);
                }
                if catch_unwind(AssertUnwindSafe(|| self.notification(n))).is_err() {
                    eprintln!("nasc lsp: a notification panicked (a bug); the server goes on");
                }
            }
            Message::Response(_) => {}
        }
        Ok(false)
    }

    /// Takes in a complete analysis from the worker: its results go into the document's
    /// cache, and if the text has not changed since, the document is published again
    /// (now complete, from the cache).
    fn completed(&mut self, d: worker::Done) {
        let Ok(uri) = d.uri.parse::<Uri>() else {
            return;
        };
        let Some(doc) = self.docs.get_mut(&uri) else {
            return;
        };
        doc.cache.merge(d.cache);
        if doc.version == d.version {
            doc.analysis = None;
            doc.due = Some(Instant::now());
        }
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            note::DidOpenTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params)
                else {
                    return;
                };
                let doc = Doc {
                    text: p.text_document.text,
                    version: p.text_document.version,
                    analysis: None,
                    due: Some(Instant::now()),
                    published: Vec::new(),
                    cache: analysis::SpaceCache::default(),
                    canonical: path_of(&p.text_document.uri).and_then(|f| f.canonicalize().ok()),
                };
                self.docs.insert(p.text_document.uri, doc);
                self.invalidate_all(false);
            }
            note::DidChangeTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params)
                else {
                    return;
                };
                let Some(doc) = self.docs.get_mut(&p.text_document.uri) else {
                    return;
                };
                for change in p.content_changes {
                    match change.range {
                        Some(range) => {
                            let lines = LineIndex::new(&doc.text);
                            let start = lines.offset(&doc.text, range.start);
                            let end = lines.offset(&doc.text, range.end).max(start);
                            doc.text.replace_range(start..end, &change.text);
                        }
                        None => doc.text = change.text,
                    }
                }
                doc.version = p.text_document.version;
                self.invalidate_all(true);
            }
            // A file changed on disk: any open document may import it.
            note::DidChangeWatchedFiles::METHOD => self.invalidate_all(false),
            note::DidCloseTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(n.params)
                else {
                    return;
                };
                if let Some(doc) = self.docs.remove(&p.text_document.uri) {
                    for uri in doc.published.into_iter().chain([p.text_document.uri]) {
                        self.send_diagnostics(uri, Vec::new(), None);
                    }
                }
                self.invalidate_all(false);
            }
            _ => {}
        }
    }

    /// Forgets every check (a changed file may be imported by another open one) and
    /// schedules every document to be checked again, after the debounce interval when
    /// `debounced`.
    fn invalidate_all(&mut self, debounced: bool) {
        let due = Instant::now()
            + if debounced {
                self.debounce
            } else {
                Duration::ZERO
            };
        for doc in self.docs.values_mut() {
            doc.analysis = None;
            doc.due = Some(doc.due.map_or(due, |d| d.max(due)));
        }
    }

    fn publish_due(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let now = Instant::now();
        let due: Vec<Uri> = self
            .docs
            .iter()
            .filter(|(_, d)| d.due.is_some_and(|t| t <= now))
            .map(|(u, _)| u.clone())
            .collect();
        for uri in due {
            if catch_unwind(AssertUnwindSafe(|| self.publish(&uri))).is_err() {
                eprintln!("nasc lsp: checking a document panicked (a bug); the server goes on");
            }
            if let Some(doc) = self.docs.get_mut(&uri) {
                doc.due = None;
            }
        }
        Ok(())
    }

    /// Checks `uri` if needed and publishes its diagnostics: its own, and those of the
    /// files it imports that are not open themselves.
    fn publish(&mut self, uri: &Uri) {
        let Some(a) = self.analysis(uri) else { return };
        let mut by_file: HashMap<FileId, Vec<LspDiagnostic>> = HashMap::new();
        for d in &a.diagnostics {
            if let Some(converted) = self.convert(&a, uri, d) {
                by_file
                    .entry(d.primary.span.file)
                    .or_default()
                    .push(converted);
            }
        }
        let version = self.docs.get(uri).map(|d| d.version);
        let own = by_file.remove(&a.root()).unwrap_or_default();
        self.send_diagnostics(uri.clone(), own, version);
        let mut published = Vec::new();
        for (file, diags) in by_file {
            let Some(path) = a.checked.program.sources.get(file).path.clone() else {
                continue;
            };
            let Some(other) = uri_of(&path) else { continue };
            if self.docs.contains_key(&other) {
                continue;
            }
            self.send_diagnostics(other.clone(), diags, None);
            published.push(other);
        }
        let before = self
            .docs
            .get_mut(uri)
            .map(|d| std::mem::replace(&mut d.published, published.clone()))
            .unwrap_or_default();
        for stale in before.into_iter().filter(|u| !published.contains(u)) {
            self.send_diagnostics(stale, Vec::new(), None);
        }
    }

    fn send_diagnostics(&self, uri: Uri, diagnostics: Vec<LspDiagnostic>, version: Option<i32>) {
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        let n = Notification::new(note::PublishDiagnostics::METHOD.into(), params);
        let _ = self.connection.sender.send(n.into());
    }

    /// A diagnostic as the protocol has it: the code as `nas::E0xx`, the help line after
    /// the message, the secondary labels as related information.
    fn convert(
        &self,
        a: &Analysis,
        root: &Uri,
        d: &crate::diag::Diagnostic,
    ) -> Option<LspDiagnostic> {
        let range = |span: Span| a.range(span);
        let mut message = d.message.clone();
        if !d.primary.message.is_empty() {
            message.push_str(&format!("\n{}", d.primary.message));
        }
        if let Some(help) = &d.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        let related = d
            .secondary
            .iter()
            .filter_map(|l| {
                Some(DiagnosticRelatedInformation {
                    location: Location::new(self.uri_for(a, root, l.span.file)?, range(l.span)),
                    message: l.message.clone(),
                })
            })
            .collect::<Vec<_>>();
        Some(LspDiagnostic {
            range: range(d.primary.span),
            severity: Some(match d.severity {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
            }),
            code: Some(NumberOrString::String(format!("nas::{}", d.code))),
            source: Some("nasc".into()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            ..LspDiagnostic::default()
        })
    }

    /// The check of `uri`'s current text, made now if the text changed since the last.
    fn analysis(&mut self, uri: &Uri) -> Option<Rc<Analysis>> {
        if let Some(a) = self.docs.get(uri)?.analysis.clone() {
            return Some(a);
        }
        let overlay: HashMap<PathBuf, String> = self
            .docs
            .iter()
            .filter(|(u, _)| *u != uri)
            .filter_map(|(_, d)| Some((d.canonical.clone()?, d.text.clone())))
            .collect();
        let doc = self.docs.get_mut(uri)?;
        let path = path_of(uri);
        let name = path
            .as_ref()
            .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
        let dir = path.as_ref().and_then(|p| p.parent()).map(PathBuf::from);
        doc.cache.defer_over = Some(self.defer_over);
        let a = Rc::new(Analysis::cached(
            &name,
            doc.text.clone(),
            dir.clone(),
            &overlay,
            &mut doc.cache,
        ));
        let job = (!a.pending.is_empty()).then(|| worker::Job {
            uri: uri.as_str().to_string(),
            version: doc.version,
            name,
            text: doc.text.clone(),
            dir,
            overlay,
        });
        doc.analysis = Some(a.clone());
        if let Some(job) = job {
            self.worker.analyse(job);
        }
        Some(a)
    }

    /// The URI of `file` of an analysis of `root`: the document itself, a file on disk,
    /// or the read-only copy of a standard-library module.
    fn uri_for(&self, a: &Analysis, root: &Uri, file: FileId) -> Option<Uri> {
        if file == a.root() {
            return Some(root.clone());
        }
        let source = a.checked.program.sources.get(file);
        match &source.path {
            Some(path) => uri_of(path),
            None => uri_of(&std_copy(&source.name, &source.text)?),
        }
    }

    fn location(&self, a: &Analysis, root: &Uri, span: Span) -> Option<Location> {
        Some(Location::new(
            self.uri_for(a, root, span.file)?,
            a.range(span),
        ))
    }

    fn request(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        let result =
            match r.method.as_str() {
                req::HoverRequest::METHOD => {
                    self.with_position::<req::HoverRequest>(r, |_, _, a, offset| {
                        let h = a.hover(offset)?;
                        Some(lsp_types::Hover {
                            contents: HoverContents::Markup(MarkupContent {
                                kind: MarkupKind::Markdown,
                                value: h.markdown,
                            }),
                            range: Some(a.range(h.span)),
                        })
                    })
                }
                req::GotoDefinition::METHOD => {
                    self.with_position::<req::GotoDefinition>(r, |s, uri, a, offset| {
                        let span = a.definition(offset)?;
                        s.location(a, uri, span).map(GotoDefinitionResponse::Scalar)
                    })
                }
                req::References::METHOD => {
                    let declaration = r
                        .params
                        .pointer("/context/includeDeclaration")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(true);
                    self.with_position::<req::References>(r, |s, uri, a, offset| {
                        Some(s.references(uri, a, offset, declaration))
                    })
                }
                req::DocumentHighlightRequest::METHOD => {
                    self.with_position::<req::DocumentHighlightRequest>(r, |_, _, a, offset| {
                        // The definition (when it is in this document) and its uses here.
                        let root = a.root();
                        let highlights: Vec<lsp_types::DocumentHighlight> = a
                            .references(offset, true)
                            .into_iter()
                            .filter(|s| s.file == root)
                            .enumerate()
                            .map(|(i, s)| lsp_types::DocumentHighlight {
                                range: a.range(s),
                                kind: Some(if i == 0 && a.definition(offset) == Some(s) {
                                    lsp_types::DocumentHighlightKind::WRITE
                                } else {
                                    lsp_types::DocumentHighlightKind::READ
                                }),
                            })
                            .collect();
                        Some(highlights)
                    })
                }
                req::Rename::METHOD => return self.rename(r),
                req::Completion::METHOD => {
                    self.with_position::<req::Completion>(r, |s, uri, a, offset| {
                        let text = s.docs.get(uri)?.text.clone();
                        let lines = LineIndex::new(&text);
                        let items = complete::complete(a, &text, offset)
                            .into_iter()
                            .map(|c| {
                                c.into_item(|at, new| TextEdit {
                                    range: lines.range(&text, at, at),
                                    new_text: new,
                                })
                            })
                            .collect();
                        Some(lsp_types::CompletionResponse::Array(items))
                    })
                }
                req::DocumentSymbolRequest::METHOD => {
                    match serde_json::from_value::<lsp_types::DocumentSymbolParams>(r.params) {
                        Ok(p) => {
                            let uri = p.text_document.uri;
                            self.analysis(&uri)
                                .map_or(Ok(serde_json::Value::Null), |a| {
                                    let symbols: Vec<DocumentSymbol> =
                                        a.outline().into_iter().map(|s| symbol(&a, s)).collect();
                                    Ok(serde_json::to_value(
                                        lsp_types::DocumentSymbolResponse::Nested(symbols),
                                    )
                                    .unwrap_or_default())
                                })
                        }
                        Err(e) => Err(invalid(e)),
                    }
                }
                req::Formatting::METHOD => return self.format(r),
                req::CodeActionRequest::METHOD => self.code_actions(r),
                req::SignatureHelpRequest::METHOD => self
                    .with_position::<req::SignatureHelpRequest>(r, |s, uri, a, offset| {
                        let text = s.docs.get(uri)?.text.clone();
                        let sig = complete::signature_help(a, &text, offset)?;
                        let parameters = sig
                            .params
                            .into_iter()
                            .map(|p| lsp_types::ParameterInformation {
                                label: lsp_types::ParameterLabel::Simple(p),
                                documentation: None,
                            })
                            .collect();
                        let active = sig.active.map(|i| i as u32);
                        Some(lsp_types::SignatureHelp {
                            signatures: vec![lsp_types::SignatureInformation {
                                label: sig.label,
                                documentation: Some(lsp_types::Documentation::MarkupContent(
                                    MarkupContent {
                                        kind: MarkupKind::Markdown,
                                        value: sig.doc,
                                    },
                                )),
                                parameters: Some(parameters),
                                active_parameter: active,
                            }],
                            active_signature: Some(0),
                            active_parameter: active,
                        })
                    }),
                _ => Err((
                    ErrorCode::MethodNotFound,
                    format!("nasc does not answer `{}`", r.method),
                )),
            };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    /// Answers a request that names a document and a position: `f` gets the document's
    /// analysis and the byte offset of the position; `None` answers `null`.
    fn with_position<R>(
        &mut self,
        r: Request,
        f: impl FnOnce(&mut Self, &Uri, &Analysis, usize) -> R::Result,
    ) -> Result<serde_json::Value, (ErrorCode, String)>
    where
        R: lsp_types::request::Request,
    {
        let pos: lsp_types::TextDocumentPositionParams = match r.params.get("textDocument") {
            Some(_) => serde_json::from_value(serde_json::json!({
                "textDocument": r.params["textDocument"],
                "position": r.params["position"],
            }))
            .map_err(invalid)?,
            None => return Err(invalid("no `textDocument`")),
        };
        let uri = pos.text_document.uri;
        let Some(a) = self.analysis(&uri) else {
            return Ok(serde_json::Value::Null);
        };
        let offset = a.offset(pos.position);
        Ok(serde_json::to_value(f(self, &uri, &a, offset)).unwrap_or_default())
    }

    /// Every place the name at `offset` refers to, in every open document's program.
    fn references(
        &mut self,
        uri: &Uri,
        a: &Analysis,
        offset: usize,
        declaration: bool,
    ) -> Vec<Location> {
        let Some((_, d)) = a.index.at(a.root(), offset) else {
            return Vec::new();
        };
        let def_span = a.index.defs[d].span;
        let Some(target_uri) = self.uri_for(a, uri, def_span.file) else {
            return Vec::new();
        };
        let mut out: Vec<Location> = Vec::new();
        let uris: Vec<Uri> = self.docs.keys().cloned().collect();
        for other in uris {
            let Some(b) = self.analysis(&other) else {
                continue;
            };
            // The same definition in that program: the one written at the same place of
            // the same file (the same text: open files are read from the editor).
            let Some(file) = b
                .checked
                .program
                .sources
                .iter()
                .map(|(id, _)| id)
                .find(|id| self.uri_for(&b, &other, *id).as_ref() == Some(&target_uri))
            else {
                continue;
            };
            let same = b.index.defs.iter().position(|def| {
                def.span.file == file
                    && def.span.start == def_span.start
                    && def.span.end == def_span.end
            });
            let Some(same) = same else { continue };
            let spans = declaration
                .then_some(b.index.defs[same].span)
                .into_iter()
                .chain(b.index.uses_of(same));
            for span in spans {
                if let Some(l) = self.location(&b, &other, span) {
                    if !out.iter().any(|o| o.uri == l.uri && o.range == l.range) {
                        out.push(l);
                    }
                }
            }
        }
        out
    }

    /// Renames the name at the position everywhere the open documents' programs use it;
    /// names of the standard library are refused.
    fn rename(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        let p: lsp_types::RenameParams = match parse(&id, r.params) {
            Ok(p) => p,
            Err(response) => return response,
        };
        let new_name = p.new_name;
        let valid = new_name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && new_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !complete::is_keyword(&new_name);
        if !valid {
            return Response::new_err(
                id,
                ErrorCode::InvalidParams as i32,
                format!("`{new_name}` is not a name: letters, digits and `_`, not starting with a digit, and not a keyword"),
            );
        }
        let uri = p.text_document_position.text_document.uri;
        let Some(a) = self.analysis(&uri) else {
            return Response::new_ok(id, serde_json::Value::Null);
        };
        let offset = a.offset(p.text_document_position.position);
        let Some((_, d)) = a.index.at(a.root(), offset) else {
            return Response::new_ok(id, serde_json::Value::Null);
        };
        let file = a.index.defs[d].span.file;
        if file != a.root() && a.checked.program.sources.get(file).path.is_none() {
            return Response::new_err(
                id,
                ErrorCode::InvalidRequest as i32,
                format!(
                    "`{}` is defined in the standard library, which cannot be renamed",
                    a.index.defs[d].name
                ),
            );
        }
        let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
        for l in self.references(&uri, &a, offset, true) {
            changes.entry(l.uri).or_default().push(TextEdit {
                range: l.range,
                new_text: new_name.clone(),
            });
        }
        if let Some(broken) = self.rename_breaks(&uri, &changes, &new_name) {
            return Response::new_err(
                id,
                ErrorCode::RequestFailed as i32,
                format!("renaming to `{new_name}` would break the program: {broken}"),
            );
        }
        Response::new_ok(
            id,
            WorkspaceEdit {
                changes: Some(changes),
                ..WorkspaceEdit::default()
            },
        )
    }

    /// The first error that the rename `changes` (all in document `uri`) would bring into
    /// its program, checked as it would stand: a name already taken, a module call that
    /// shares the renamed name, a use the new name would shadow. `None` when it brings
    /// none, or when it changes other files too (they are not checked together here).
    fn rename_breaks(
        &self,
        uri: &Uri,
        changes: &HashMap<Uri, Vec<TextEdit>>,
        new_name: &str,
    ) -> Option<String> {
        if changes.keys().any(|u| u != uri) {
            return None;
        }
        let doc = self.docs.get(uri)?;
        let lines = LineIndex::new(&doc.text);
        let mut spans: Vec<(usize, usize)> = changes
            .get(uri)?
            .iter()
            .map(|e| {
                (
                    lines.offset(&doc.text, e.range.start),
                    lines.offset(&doc.text, e.range.end),
                )
            })
            .collect();
        spans.sort_unstable();
        spans.dedup();
        let mut renamed = doc.text.clone();
        for &(start, end) in spans.iter().rev() {
            if start <= end && end <= renamed.len() {
                renamed.replace_range(start..end, new_name);
            }
        }
        let path = path_of(uri);
        let name = path
            .as_ref()
            .map_or_else(|| uri.as_str().to_string(), |p| p.display().to_string());
        let dir = path.as_ref().and_then(|p| p.parent()).map(PathBuf::from);
        let errors = |text: String| -> Vec<String> {
            crate::check_source(&name, text, dir.clone())
                .diagnostics
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.message.clone())
                .collect()
        };
        let before = errors(doc.text.clone());
        errors(renamed).into_iter().find(|m| !before.contains(m))
    }

    /// Quick fixes: a diagnostic whose help suggests a name (`did you mean `width`?`) over
    /// a misspelled name offers to replace it.
    fn code_actions(&mut self, r: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        let p: lsp_types::CodeActionParams = serde_json::from_value(r.params).map_err(invalid)?;
        let uri = p.text_document.uri;
        let Some(doc) = self.docs.get(&uri) else {
            return Ok(serde_json::Value::Null);
        };
        let lines = LineIndex::new(&doc.text);
        let mut actions = Vec::new();
        for d in p.context.diagnostics {
            let Some(suggested) = suggestion(&d.message) else {
                continue;
            };
            let (start, end) = (
                lines.offset(&doc.text, d.range.start),
                lines.offset(&doc.text, d.range.end),
            );
            let written = doc.text.get(start..end).unwrap_or("");
            let is_name = !written.is_empty()
                && written
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !is_name || written == suggested {
                continue;
            }
            let edit = TextEdit {
                range: d.range,
                new_text: suggested.to_string(),
            };
            actions.push(lsp_types::CodeActionOrCommand::CodeAction(
                lsp_types::CodeAction {
                    title: format!("Replace `{written}` with `{suggested}`"),
                    kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![d.clone()]),
                    edit: Some(WorkspaceEdit {
                        changes: Some(HashMap::from([(uri.clone(), vec![edit])])),
                        ..WorkspaceEdit::default()
                    }),
                    is_preferred: Some(true),
                    ..lsp_types::CodeAction::default()
                },
            ));
        }
        Ok(serde_json::to_value(actions).unwrap_or_default())
    }

    /// Formats the whole document as `nasc fmt` does: one edit replacing the text, none
    /// when it is formatted already. A document that does not parse is left alone and
    /// the request fails with the syntax error (the diagnostics already mark the place).
    fn format(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        let p: lsp_types::DocumentFormattingParams = match parse(&id, r.params) {
            Ok(p) => p,
            Err(response) => return response,
        };
        let Some(doc) = self.docs.get(&p.text_document.uri) else {
            return Response::new_ok(id, serde_json::Value::Null);
        };
        let lines = LineIndex::new(&doc.text);
        match crate::fmt::format_source(&doc.text) {
            Ok(formatted) if formatted == doc.text => Response::new_ok(id, Vec::<TextEdit>::new()),
            Ok(formatted) => {
                let edit = TextEdit {
                    range: lines.range(&doc.text, 0, doc.text.len()),
                    new_text: formatted,
                };
                Response::new_ok(id, vec![edit])
            }
            Err(e) => {
                let at = lines.position(&doc.text, e.span.start);
                Response::new_err(
                    id,
                    ErrorCode::RequestFailed as i32,
                    format!(
                        "cannot format: {} (line {}, column {})",
                        e.message,
                        at.line + 1,
                        at.character + 1
                    ),
                )
            }
        }
    }
}

/// The name a diagnostic's help suggests: `X` in "help: did you mean `X`?".
fn suggestion(message: &str) -> Option<&str> {
    let rest = &message[message.find("help: did you mean `")? + "help: did you mean `".len()..];
    let name = &rest[..rest.find('`')?];
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

/// The parameters of request `id`, or the error response that says they are malformed.
fn parse<P: serde::de::DeserializeOwned>(
    id: &lsp_server::RequestId,
    params: serde_json::Value,
) -> Result<P, Response> {
    serde_json::from_value(params).map_err(|e| {
        let (code, message) = invalid(e);
        Response::new_err(id.clone(), code as i32, message)
    })
}

fn invalid(e: impl std::fmt::Display) -> (ErrorCode, String) {
    (ErrorCode::InvalidParams, format!("invalid parameters: {e}"))
}

#[allow(deprecated)] // `DocumentSymbol::deprecated` must be given, as `None`.
fn symbol(a: &Analysis, s: Symbol) -> DocumentSymbol {
    DocumentSymbol {
        name: s.name,
        detail: s.detail,
        kind: s.kind,
        tags: None,
        deprecated: None,
        range: a.range(s.span),
        selection_range: a.range(s.name_span),
        children: Some(s.children.into_iter().map(|c| symbol(a, c)).collect()),
    }
}

/// The read-only copy of standard-library module `name` (`std/transformer.nas`) with
/// `text`, written on first use.
fn std_copy(name: &str, text: &str) -> Option<PathBuf> {
    // The embedded texts never change while the server runs: check the disk once per module.
    static WRITTEN: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut written = WRITTEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, path)) = written.iter().find(|(n, _)| n == name) {
        return Some(path.clone());
    }
    let dir = std::env::temp_dir().join(format!("nasc-{}-stdlib", env!("CARGO_PKG_VERSION")));
    let path = dir.join(name);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::create_dir_all(path.parent()?).ok()?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text).ok()?;
        std::fs::rename(&tmp, &path).ok()?;
    }
    written.push((name.to_string(), path.clone()));
    Some(path)
}

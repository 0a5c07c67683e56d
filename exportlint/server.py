"""`exportlint server`: a language server (pygls) that publishes the source-only rules' findings as the
user types, with a link to each rule's doc, and offers their LibCST fixes as code actions that say
whether the fix is safe. Never imports torch: only the source pass runs (docs/editors.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from exportlint import __version__
from exportlint.engine.rule import Applicability, Finding, Severity

SOURCE = "exportlint"
_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning,
             Severity.INFO: types.DiagnosticSeverity.Information}


@dataclass
class Fixable:
    """A finding with a fix, and the document's whole text once that fix alone is applied."""

    finding: Finding
    fixed: str


@dataclass
class Document:
    """What the server knows of one document version: its diagnostics and its fixes."""

    diagnostics: list[types.Diagnostic]
    fixes: list[Fixable]


def check_document(text: str, path: str) -> Document:
    """The source pass over an editor's buffer, with the config (`[tool.exportlint]`) above `path`."""
    from exportlint.config import find_config, load_config
    from exportlint.source.visit import apply_rewrites
    from exportlint.source.walker import check_text, source_rules
    from exportlint.suppress import apply_suppressions, suppressed_by

    options = load_config(find_config([Path(path)])).options()
    rules = source_rules(options)
    data = text.encode("utf-8")
    checked = check_text(data, path, rules)
    findings = apply_suppressions(checked.findings, options, {path: None}, ran=rules, sources={path: data})
    fixes = []
    if checked.unit is not None:
        for edit in checked.unit.edits:
            if edit.finding.fixable and suppressed_by(edit.finding, options, {path: data}) is None:
                fixed = apply_rewrites(checked.unit.module, {id(edit.node): edit.rewrite}).code
                fixes.append(Fixable(edit.finding, fixed))
    return Document([diagnostic(f) for f in findings], fixes)


def diagnostic(f: Finding) -> types.Diagnostic:
    from exportlint.docs import rule_url
    from exportlint.engine.registry import all_rules

    line = f.location.line - 1 if f.location else 0
    column = f.location.column - 1 if f.location else 0
    rule = all_rules().get(f.code)
    url = rule_url(rule) if rule else None
    return types.Diagnostic(
        range=types.Range(types.Position(line, column), types.Position(line + 1, 0)),
        message=f.message + (f" (fix: {f.fix.applicability.value})" if f.fixable else ""),
        severity=_SEVERITY[f.severity], code=f.code, source=SOURCE,
        code_description=types.CodeDescription(href=url) if url else None)


def code_actions(uri: str, text: str, checked: Document, wanted: types.Range) -> list[types.CodeAction]:
    """A quick fix per fix on the lines of `wanted`: `Fix EXL5xx (safe): description`, preferred when
    safe; each replaces the whole document by its fixed text."""
    lines = text.split("\n")
    end = types.Position(len(lines) - 1, len(lines[-1].encode("utf-16-le")) // 2)  # LSP counts UTF-16 units
    actions = []
    for fix in checked.fixes:
        f = fix.finding
        if not wanted.start.line <= f.location.line - 1 <= wanted.end.line:
            continue
        safe = f.fix.applicability is Applicability.SAFE
        edit = types.TextEdit(types.Range(types.Position(0, 0), end), fix.fixed)
        actions.append(types.CodeAction(
            title=f"Fix {f.code} ({f.fix.applicability.value}): {f.fix.description}",
            kind=types.CodeActionKind.QuickFix, is_preferred=safe,
            diagnostics=[d for d in checked.diagnostics if d.code == f.code
                         and d.range.start.line == f.location.line - 1],
            edit=types.WorkspaceEdit(changes={uri: [edit]})))
    return actions


def _path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def make_server() -> LanguageServer:
    server = LanguageServer(SOURCE, __version__)
    checked: dict[str, Document] = {}

    def publish(uri: str) -> None:
        doc = server.workspace.get_text_document(uri)
        checked[uri] = check_document(doc.source, _path(uri))
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, version=doc.version, diagnostics=checked[uri].diagnostics))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        checked.pop(params.text_document.uri, None)
        server.text_document_publish_diagnostics(types.PublishDiagnosticsParams(params.text_document.uri, []))

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def code_action(ls: LanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        uri = params.text_document.uri
        if uri not in checked:
            return []
        return code_actions(uri, server.workspace.get_text_document(uri).source, checked[uri], params.range)

    return server


def serve() -> int:
    """Speak LSP over stdin/stdout until the client says exit."""
    make_server().start_io()
    return 0

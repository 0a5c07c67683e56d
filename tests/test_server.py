"""`exportlint server`: driven over stdio as an editor does (JSON-RPC with Content-Length headers): it
publishes the source rules' diagnostics on open and on change, with codes and doc links, and a safe
code action's edit gives the fixed text. The server never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT
from exportlint.source import fix_files

SOURCE = """\
import torch
import torch.nn.functional as F


class Gate(torch.nn.Module):
    def forward(self, x):
        return F.hardsigmoid(x) * x.double()
"""


class Client:
    """A minimal LSP client over a subprocess's pipes."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "exportlint", "server"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=ROOT)
        self.next_id = 0

    def send(self, method: str, params: dict, request: bool = False) -> int | None:
        message = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return message.get("id")

    def receive(self) -> dict:
        length = None
        while (line := self.proc.stdout.readline().strip()):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(self.proc.stdout.read(length))

    def wait_for(self, method: str | None = None, id: int | None = None) -> dict:
        while True:
            message = self.receive()
            if (method and message.get("method") == method) or (id is not None and message.get("id") == id):
                return message

    def request(self, method: str, params: dict) -> dict:
        return self.wait_for(id=self.send(method, params, request=True))["result"]

    def close(self) -> None:
        self.request("shutdown", None)
        self.send("exit", None)
        self.proc.wait(timeout=30)


@pytest.fixture
def client():
    c = Client()
    c.request("initialize", {"processId": None, "rootUri": ROOT.as_uri(), "capabilities": {}})
    c.send("initialized", {})
    yield c
    c.close()


def _apply(text: str, edit: dict) -> str:
    """One TextEdit applied to `text` (positions in UTF-16 units; ASCII here)."""
    lines = text.split("\n")
    (sl, sc), (el, ec) = ((edit["range"][k]["line"], edit["range"][k]["character"]) for k in ("start", "end"))
    head = "\n".join(lines[:sl] + [lines[sl][:sc]])
    tail = "\n".join([lines[el][ec:]] + lines[el + 1:])
    return head + edit["newText"] + tail


def test_diagnostics_as_you_type_and_a_safe_fix(client, tmp_path):
    uri = (tmp_path / "gate.py").as_uri()
    client.send("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                          "text": SOURCE}})
    published = client.wait_for("textDocument/publishDiagnostics")["params"]
    assert published["uri"] == uri and published["version"] == 1
    by_code = {d["code"]: d for d in published["diagnostics"]}
    assert set(by_code) == {"EXL501", "EXL505"}, by_code
    gate = by_code["EXL501"]
    assert gate["source"] == "exportlint" and gate["range"]["start"] == {"line": 6, "character": 15}
    assert gate["codeDescription"]["href"].endswith("docs/rules.md#exl501-exotic-activation")

    actions = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": gate["range"], "context": {"diagnostics": [gate]}})
    safe = [a for a in actions if a.get("isPreferred")]
    assert len(safe) == 1 and "(safe)" in safe[0]["title"] and safe[0]["title"].startswith("Fix EXL501")
    assert all("(unsafe)" in a["title"] for a in actions if not a.get("isPreferred"))
    (edit,) = safe[0]["edit"]["changes"][uri]
    fixed = _apply(SOURCE, edit)
    assert fixed == SOURCE.replace("F.hardsigmoid(x)", "torch.clamp(x + 3, 0, 6) / 6")
    (tmp_path / "gate.py").write_text(SOURCE)
    fix_files([tmp_path / "gate.py"])
    assert (tmp_path / "gate.py").read_text() == fixed  # what `exportlint fix` writes

    client.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                           "contentChanges": [{"text": fixed}]})
    republished = client.wait_for("textDocument/publishDiagnostics")["params"]
    assert republished["version"] == 2 and [d["code"] for d in republished["diagnostics"]] == ["EXL505"]

    ignored = fixed.replace("x.double()", "x.double()  # exportlint: ignore[EXL505]")  # not saved: the buffer's
    client.send("textDocument/didChange", {"textDocument": {"uri": uri, "version": 3},
                                           "contentChanges": [{"text": ignored}]})
    assert client.wait_for("textDocument/publishDiagnostics")["params"]["diagnostics"] == []


def test_server_imports_no_framework(tmp_path):
    code = ("import json, sys; from exportlint.server import check_document, make_server; make_server();"
            f"check_document({SOURCE!r}, {str(tmp_path / 'gate.py')!r});"
            "print(json.dumps(sorted(sys.modules)))")
    modules = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                        cwd=ROOT).stdout)
    assert "libcst" in modules
    assert not [m for m in modules if m.split(".")[0] in ("torch", "tensorflow", "coremltools", "onnxruntime",
                                                          "networkx", "numpy")]

// Draws the report's data (the JSON in #data, see exportlint/report/html.py) with dagre's layout.
// The URL's hash picks the view: #model=0&target=coreml:iOS16&expand=all (or &budget=N units drawn)
// &node=I (node I's details).
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const RANK = "suwb"; // statuses by rank: supported, unverified, warning, blocked
  const NAMES = { s: "supported", u: "unverified", w: "warning", b: "blocked" };
  const SVG = "http://www.w3.org/2000/svg";
  const style = getComputedStyle(document.documentElement);
  const COLOUR = Object.fromEntries([...RANK].map((s) => [s, style.getPropertyValue("--" + s).trim()])); // report.css
  const $ = (id) => document.getElementById(id);
  const hash = new URLSearchParams(location.hash.slice(1));
  const BUDGET = Number(hash.get("budget") || 150); // units drawn by default: modules stay collapsed beyond it
  const state = { model: 0, target: 0, expanded: new Set(), selected: null, zoom: 1 };

  function el(tag, attrs, ...kids) {
    const e = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.setAttribute("class", v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    for (const kid of kids.flat()) e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    return e;
  }
  const worst = (letters) => [...letters].reduce((a, b) => (RANK.indexOf(b) > RANK.indexOf(a) ? b : a), "s");
  const model = () => DATA.models[state.model];
  const file = (where) => (where ? `${DATA.files[where[0]]}:${where[1]}` : "");

  // The nn.Module tree of a model: per module its child modules, its own nodes and its size.
  function tree(m) {
    if (m._tree) return m._tree;
    const kids = new Map([["", new Set()]]), direct = new Map([["", []]]), size = new Map(), type = new Map();
    m.nodes.forEach((n, i) => {
      const parts = n.module ? n.module.split(".") : [];
      let parent = "";
      parts.forEach((_, d) => {
        const mod = parts.slice(0, d + 1).join(".");
        if (!kids.has(mod)) { kids.set(mod, new Set()); direct.set(mod, []); }
        kids.get(parent).add(mod);
        size.set(mod, (size.get(mod) || 0) + 1);
        parent = mod;
      });
      direct.get(parent).push(i);
      if (n.module && n.type && !type.has(n.module)) type.set(n.module, n.type);
    });
    return (m._tree = { kids, direct, size, type });
  }
  const prefixes = (mod) => (mod ? mod.split(".").map((_, d, p) => p.slice(0, d + 1).join(".")) : []);

  // What node i is drawn as: itself, or the outermost collapsed module (of more than one node) around it.
  function unitOf(m, i) {
    const t = tree(m);
    for (const mod of prefixes(m.nodes[i].module)) {
      if (!state.expanded.has(mod) && t.size.get(mod) > 1) return "m:" + mod;
    }
    return "n:" + i;
  }

  // Expanded by default: every module around a blocked node, then breadth first while within BUDGET.
  function defaultExpansion() {
    const m = model(), t = tree(m);
    state.expanded = new Set();
    m.nodes.forEach((n) => { if (n.st[state.target] === "b") prefixes(n.module).forEach((p) => state.expanded.add(p)); });
    let visible = new Set(m.nodes.map((_, i) => unitOf(m, i))).size;
    const queue = [...t.kids.get("")];
    while (queue.length) {
      const mod = queue.shift();
      const grown = visible - 1 + t.kids.get(mod).size + t.direct.get(mod).length;
      if (!state.expanded.has(mod) && t.size.get(mod) > 1) {
        if (grown > BUDGET) continue;
        state.expanded.add(mod);
        visible = grown;
      }
      queue.push(...t.kids.get(mod));
    }
  }

  function label(text, limit) { return text.length > limit ? text.slice(0, limit - 1) + "…" : text; }
  function shortOp(op) {
    const parts = op.split("::").pop().split(".");
    return parts[0] === "aten" && parts.length >= 3 ? parts.slice(1, -1).join(".") : parts[parts.length - 1] || op;
  }

  function draw() {
    const m = model(), t = tree(m), svg = $("graph");
    svg.replaceChildren();
    if (!m.nodes.length) { $("count").textContent = "no graph captured"; svg.dataset.drawn = "0"; return; }
    const g = new dagre.graphlib.Graph();
    g.setGraph({ rankdir: "TB", nodesep: 18, ranksep: 28, marginx: 12, marginy: 40 });
    g.setDefaultEdgeLabel(() => ({}));
    const units = new Map();
    m.nodes.forEach((n, i) => {
      const u = unitOf(m, i);
      if (!units.has(u)) units.set(u, []);
      units.get(u).push(i);
    });
    for (const [u, members] of units) {
      let lines;
      if (u.startsWith("m:")) {
        const mod = u.slice(2), kind = (t.type.get(mod) || "").split(".").pop();
        lines = [label(mod.split(".").pop() + (kind ? " · " + kind : ""), 34), `${t.size.get(mod)} nodes · ${mod}`];
      } else {
        const n = m.nodes[members[0]];
        lines = [label(n.kind === "op" ? shortOp(n.op) : `${n.kind} ${n.name}`, 30),
                 n.out && n.out.length ? label(n.out[0][1] + " " + n.out[0][0], 30) : ""];
      }
      const width = Math.min(240, Math.max(70, 7 * Math.max(...lines.map((l) => label(l, 34).length)) + 14));
      g.setNode(u, { width, height: 34, lines, members, st: worst(members.map((i) => m.nodes[i].st[state.target])) });
    }
    m.edges.forEach(([a, b]) => {
      const ua = unitOf(m, a), ub = unitOf(m, b);
      if (ua !== ub) g.setEdge(ua, ub);
    });
    dagre.layout(g);
    const { width, height } = g.graph();
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width * state.zoom);
    svg.setAttribute("height", height * state.zoom);
    svg.append(el("svg:defs", {}, el("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 6, markerHeight: 6, orient: "auto" }, el("svg:path", { d: "M0,0L10,5L0,10z", fill: "#8a8f96" }))));
    for (const e of g.edges()) {
      const pts = g.edge(e).points;
      svg.append(el("svg:path", { class: "edge", "marker-end": "url(#arrow)",
        d: "M" + pts.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("L") }));
    }
    for (const u of g.nodes()) {
      const n = g.node(u), group = u.startsWith("m:");
      const node = el("svg:g", { class: `node ${n.st}${group ? " group" : ""}${u === "n:" + state.selected ? " selected" : ""}`,
        "data-status": n.st, "data-id": group ? null : u.slice(2), "data-module": group ? u.slice(2) : null,
        transform: `translate(${(n.x - n.width / 2).toFixed(1)},${(n.y - n.height / 2).toFixed(1)})`,
        onclick: () => (group ? expand(u.slice(2)) : select(n.members[0])) },
        el("svg:rect", { width: n.width, height: n.height, fill: COLOUR[n.st] }),
        el("svg:text", { x: 7, y: 14 }, n.lines[0]),
        el("svg:text", { x: 7, y: 27, "font-size": 10 }, n.lines[1]));
      node.append(el("svg:title", {}, group ? `${u.slice(2)}: ${NAMES[n.st]} (click to expand)` : NAMES[n.st]));
      svg.append(node);
    }
    $("count").textContent = `${units.size} drawn for ${m.nodes.length} nodes`;
    svg.dataset.drawn = String(units.size);
  }

  function expand(mod) { state.expanded.add(mod); draw(); }
  function collapse(mod) {
    for (const e of [...state.expanded]) if (e === mod || e.startsWith(mod + ".")) state.expanded.delete(e);
    draw();
  }

  function source(where) {
    if (!where) return [];
    const lines = DATA.source[where[0]] || {};
    const shown = Object.keys(lines).map(Number).filter((l) => Math.abs(l - where[1]) <= 4).sort((a, b) => a - b);
    return [el("div", {}, el("code", {}, file(where))),
            el("pre", { class: "src" }, shown.map((l) => el("span", { class: l === where[1] ? "here" : "" },
              `${String(l).padStart(5)}  ${lines[l]}`)))];
  }

  function select(i) {
    state.selected = i;
    const m = model(), n = m.nodes[i];
    document.querySelectorAll("g.node.selected").forEach((e) => e.classList.remove("selected"));
    const drawn = document.querySelector(`g.node[data-id="${i}"]`);
    if (drawn) drawn.classList.add("selected");
    const rows = [["kind", n.kind], ["name", n.name]];
    if (n.type) rows.push(["module type", n.type]);
    Object.entries(n.args || {}).forEach(([k, v]) => rows.push([`arg ${k}`, v]));
    (n.in || []).forEach(([dtype, shape], k) => rows.push([`input ${k}`, `${shape} ${dtype}`]));
    (n.out || []).forEach(([dtype, shape], k) => rows.push([`output ${k}`, `${shape} ${dtype}`]));
    const crumbs = prefixes(n.module).map((p) => el("button", { onclick: () => collapse(p), title: "collapse" }, p.split(".").pop()));
    const found = m.findings.filter((f) => f.node === i);
    $("details").replaceChildren(
      el("h3", {}, n.op),
      el("div", { class: "crumb" }, "module: ", n.module ? crumbs : "(top level)"),
      el("table", {}, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
      el("p", {}, m.targets.map((t, k) => el("span", {}, el("i", { class: n.st[k] }), `${t} ${NAMES[n.st[k]]}  `))),
      found.length ? el("ul", {}, found.map((f) => el("li", { class: `sev-${f.severity}` },
        `${f.code} [${f.target || "all"}${f.paths.length ? " " + f.paths.join("/") : ""}] ${f.message}`))) : el("p", { class: "hint" }, "no findings"),
      ...source(n.loc), ...(n.call ? [el("div", {}, "called from:"), ...source(n.call)] : []));
  }

  function verdicts() {
    const m = model();
    $("verdicts").replaceChildren(el("div", {}, el("b", {}, m.name), m.capture ? ` captured with ${m.capture}` : ""),
      el("table", {}, el("tr", {}, ["target", "verdict", "errors", "warnings", "conversion paths"].map((h) => el("th", {}, h))),
        m.verdicts.map((v, k) => el("tr", { class: k === state.target ? "current" : "" },
          el("td", {}, el("b", {}, v.target)), el("td", { class: v.blocked ? "no" : "ok" }, v.blocked ? "blocked" : "exportable"),
          el("td", {}, v.errors), el("td", {}, v.warnings),
          el("td", {}, v.paths.map((p) => el("div", {}, el("span", { class: p.exportable ? "ok" : "no" }, p.exportable ? "✓ " : "✗ "),
            `${p.path}${p.default ? " (default)" : ""} · ${p.by}${p.reason ? ": " + label(p.reason, 160) : ""}${p.where ? " at " + file(p.where) : ""}`)))))));
  }

  function findings() {
    const m = model(), target = m.targets[state.target];
    const mine = m.findings.filter((f) => !f.target || f.target === target);
    $("findings").replaceChildren(el("h2", {}, `Findings for ${target || "the source"} (${mine.length})`),
      el("table", {}, mine.map((f) => el("tr", { onclick: () => f.node !== null && select(f.node) },
        el("td", { class: `sev-${f.severity}` }, f.severity), el("td", {}, f.code), el("td", {}, el("code", {}, file(f.where))),
        el("td", {}, f.message + (f.fix ? ` (fix: ${f.fix})` : ""))))));
  }

  function matrix() {
    const m = model();
    if (!m.ops.length) return $("matrix").replaceChildren();
    $("matrix").replaceChildren(el("h2", {}, "Operators × targets"),
      el("table", {}, el("tr", {}, el("th", {}, "op"), el("th", {}, "nodes"), m.targets.map((t) => el("th", {}, t))),
        m.ops.map((row) => el("tr", {}, el("td", {}, el("code", {}, row.op)), el("td", {}, row.count),
          row.cells.map((c) => el("td", { class: c.status, title: c.reason },
            [NAMES[c.status], c.evidence && `by ${c.evidence}`, c.decided.length && `run: ${c.decided.join(", ")}`,
             c.since && `from ${c.since}`].filter(Boolean).join(" · ")))))));
  }

  function show() {
    defaultExpansion();
    if (hash.get("expand") === "all") tree(model()).size.forEach((_, mod) => state.expanded.add(mod));
    state.selected = null;
    draw(); verdicts(); findings(); matrix();
  }

  function options(select, values, current, onchange) {
    select.replaceChildren(...values.map((v, k) => el("option", { value: k }, v)));
    select.value = String(current);
    select.onchange = () => onchange(Number(select.value));
  }
  function targets() {
    options($("target"), model().targets, state.target, (k) => { state.target = k; hash.delete("expand"); show(); });
  }

  document.querySelector("header h1").textContent = `exportlint ${DATA.version}`;
  state.model = Math.min(Number(hash.get("model") || 0), DATA.models.length - 1);
  state.target = Math.max(0, model().targets.indexOf(hash.get("target")));
  options($("model"), DATA.models.map((m) => m.name), state.model, (k) => { state.model = k; state.target = 0; targets(); show(); });
  targets();
  $("expand-all").onclick = () => { tree(model()).size.forEach((_, mod) => state.expanded.add(mod)); draw(); };
  $("collapse-all").onclick = () => { state.expanded.clear(); draw(); };
  $("reset").onclick = () => { defaultExpansion(); draw(); };
  $("zoom-in").onclick = () => { state.zoom *= 1.25; draw(); };
  $("zoom-out").onclick = () => { state.zoom /= 1.25; draw(); };
  show();
  if (hash.has("node")) select(Number(hash.get("node")));
  document.body.dataset.ready = "1";
})();

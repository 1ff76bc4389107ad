// agent_magic's diff review widget: an anywidget module around CodeMirror 6's merge view.
// It draws the state the kernel sent (files, hunks, findings, decisions) and asks the kernel to
// decide hunks; it never changes a decision on its own, so what Apply writes is the kernel's.
// The JupyterLab extension draws a notebook's saved copy of a review with this same module,
// through a model that only reads (see ../savedreview.ts); it builds no HTML from data.

import { Change, MergeView, diff as textDiff, unifiedMergeView } from "@codemirror/merge";
import { defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { json } from "@codemirror/lang-json";
import { markdown } from "@codemirror/lang-markdown";
import { python } from "@codemirror/lang-python";
import { EditorState, Extension, StateEffect, StateField, Text } from "@codemirror/state";
import { Decoration, DecorationSet, EditorView, WidgetType, lineNumbers } from "@codemirror/view";

import { STYLE } from "./style";

type Decision = "accepted" | "rejected";
type Mode = "unified" | "split";

interface HunkState {
  id: string;
  header: string;
  kind: string;
  old_start: number;
  old_end: number;
  new_start: number;
  new_end: number;
  changes: number[][];
  text: string;
  old: string;
  new: string;
  language: string;
  notes: string[];
}

interface FileState {
  path: string;
  old_path: string;
  status: string;
  language: string;
  view: "text" | "hunks" | "notebook";
  old: string;
  new: string;
  added: number;
  removed: number;
  hunks: HunkState[];
}

interface FindingState {
  severity: string;
  message: string;
  suggestion: string;
  source: string;
  status: string;
  path: string;
  line: number;
  line_end: number;
  location: string;
  blocking: boolean;
  placement: "line" | "file" | "top";
}

export interface Model {
  get(name: string): any;
  on(event: string, callback: (...args: any[]) => void): void;
  off(event?: string | null, callback?: ((...args: any[]) => void) | null): void;
  send(content: object): void;
}

const COLLAPSE = { margin: 3, minSize: 4 };
const REFINE_CHARS = 20_000; // replace blocks up to this size get a character-level diff
const LAZY_MARGIN = "1200px"; // files are built when this close to the visible area
const SEVERITY_ORDER = ["blocker", "major", "minor", "nit"];

// ------------------------------------------------------------------ pure helpers

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

function posOf(starts: number[], line: number, length: number): number {
  return line < starts.length ? Math.min(starts[line], length) : length;
}

/** The kernel's line changes as CodeMirror changes, refined to characters where cheap. */
function changesOf(a: string, b: string, ranges: number[][]): Change[] {
  const sa = lineStarts(a);
  const sb = lineStarts(b);
  const out: Change[] = [];
  for (const [i1, i2, j1, j2] of ranges) {
    const fromA = posOf(sa, i1, a.length);
    const toA = posOf(sa, i2, a.length);
    const fromB = posOf(sb, j1, b.length);
    const toB = posOf(sb, j2, b.length);
    if (fromA < toA && fromB < toB && toA - fromA + toB - fromB <= REFINE_CHARS) {
      const inner = textDiff(a.slice(fromA, toA), b.slice(fromB, toB), { scanLimit: 500, timeout: 20 });
      for (const c of inner) out.push(new Change(c.fromA + fromA, c.toA + fromA, c.fromB + fromB, c.toB + fromB));
    } else if (fromA < toA || fromB < toB) {
      out.push(new Change(fromA, toA, fromB, toB));
    }
  }
  return out;
}

/** A unified hunk text split into its old and new sides and the changed line ranges. */
function sidesOfHunk(text: string): { old: string; new: string; changes: number[][] } {
  const oldLines: string[] = [];
  const newLines: string[] = [];
  const changes: number[][] = [];
  let open: number[] | null = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("\\")) continue; // "\ No newline at end of file"
    const sign = line[0];
    const body = line.slice(1);
    if (sign === "-" || sign === "+") {
      if (!open) open = [oldLines.length, oldLines.length, newLines.length, newLines.length];
      if (sign === "-") oldLines.push(body);
      else newLines.push(body);
      open[1] = oldLines.length;
      open[3] = newLines.length;
      continue;
    }
    if (open) changes.push(open);
    open = null;
    if (line === "") continue;
    oldLines.push(sign === " " ? body : line);
    newLines.push(sign === " " ? body : line);
  }
  if (open) changes.push(open);
  return { old: oldLines.join("\n") + "\n", new: newLines.join("\n") + "\n", changes };
}

function languageOf(name: string): Extension {
  if (name === "python") return python();
  if (name === "markdown") return markdown();
  if (name === "json") return json();
  return [];
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls = "", text = ""): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text) node.textContent = text;
  return node;
}

// ------------------------------------------------------------------ the review

class Review {
  files: FileState[] = [];
  findings: FindingState[] = [];
  decisions: Record<string, Decision> = {};
  enabled = true;
  mode: Mode = "unified";
  current: string | null = null;
  order: { id: string; file: FileState; hunk: HunkState }[] = [];
  bars = new Map<string, Set<HTMLElement>>();
  mounted = new Map<string, { destroy(): void; refresh(): void; reveal(id: string): void }>();
  bodies = new Map<string, HTMLElement>();
  observer: IntersectionObserver | null = null;
  readonly root: HTMLElement;
  readonly summary: HTMLElement;
  readonly filesBox: HTMLElement;
  readonly topBox: HTMLElement;
  readonly notesBox: HTMLElement;
  readonly modeButton: HTMLButtonElement;

  constructor(readonly model: Model, readonly host: HTMLElement) {
    this.root = el("div", "amr");
    this.root.tabIndex = 0;
    const style = el("style");
    style.textContent = STYLE;
    const toolbar = el("div", "amr-toolbar");
    this.summary = el("span", "amr-summary");
    this.modeButton = el("button", "amr-mode");
    this.modeButton.type = "button";
    this.modeButton.addEventListener("click", () => this.setMode(this.mode === "unified" ? "split" : "unified", true));
    const keys = el("span", "amr-keys", "j/k next/prev hunk · a accept · r reject · A/R whole file · u undecide · Apply writes every hunk not rejected, undecided ones too");
    toolbar.append(this.summary, this.modeButton, keys);
    this.notesBox = el("div", "amr-notes");
    this.topBox = el("div", "amr-top");
    this.filesBox = el("div", "amr-files");
    this.root.append(style, toolbar, this.notesBox, this.topBox, this.filesBox);
    host.append(this.root);
    // Before the page's own shortcuts (JupyterLab listens on the document in the capture
    // phase): our plain keys, when the focus is in this widget; Ctrl+S and the rest pass.
    window.addEventListener("keydown", this.keyListener, true);
  }

  readonly keyListener = (event: KeyboardEvent): void => {
    if (event.target instanceof Node && this.root.contains(event.target)) this.onKey(event);
  };

  load(): void {
    for (const view of this.mounted.values()) view.destroy();
    this.mounted.clear();
    this.bodies.clear();
    this.bars.clear();
    this.observer?.disconnect();
    this.files = this.model.get("files") ?? [];
    this.findings = sortFindings(this.model.get("findings") ?? []);
    this.mode = this.model.get("mode") === "split" ? "split" : "unified";
    this.order = [];
    for (const file of this.files) for (const hunk of file.hunks) this.order.push({ id: hunk.id, file, hunk });
    this.readDecisions();
    // a saved copy says what it is and what it left out (the live widget has no notes)
    const notes: unknown = this.model.get("notes");
    const lines = Array.isArray(notes) ? notes.filter((n): n is string => typeof n === "string" && !!n) : [];
    this.notesBox.replaceChildren(...lines.map((n) => el("div", "amr-note-line", n)));
    this.topBox.replaceChildren(...this.findings.filter((f) => f.placement === "top").map((f) => this.findingCard(f, true)));
    this.observer = new IntersectionObserver((entries) => this.onVisible(entries), { rootMargin: LAZY_MARGIN });
    this.filesBox.replaceChildren(...this.files.map((file) => this.fileSection(file)));
    if (!this.files.length) this.filesBox.append(el("i", "", "No file changes."));
    this.refresh();
  }

  readDecisions(): void {
    this.decisions = { ...(this.model.get("decisions") ?? {}) };
    this.enabled = !!this.model.get("enabled");
  }

  destroy(): void {
    window.removeEventListener("keydown", this.keyListener, true);
    this.observer?.disconnect();
    for (const view of this.mounted.values()) view.destroy();
    this.mounted.clear();
  }

  // ---- files

  fileSection(file: FileState): HTMLElement {
    const section = el("section", "amr-file");
    section.dataset.path = file.path;
    const header = el("div", "amr-file-header");
    const toggle = el("button", "amr-fold", "▾");
    toggle.type = "button";
    toggle.title = "fold or unfold this file";
    const name = el("span", "amr-path", file.old_path && file.old_path !== file.path ? `${file.old_path} → ${file.path}` : file.path);
    const status = file.status === "modified" ? "" : file.status === "added" ? "new" : file.status;
    const tags = el("span", "amr-tags");
    if (status) tags.append(el("span", `amr-tag amr-tag-${file.status}`, status));
    if (file.view === "notebook") tags.append(el("span", "amr-tag", "notebook, per cell"));
    const stats = el("span", "amr-stats");
    stats.append(el("span", "amr-added", `+${file.added}`), el("span", "amr-removed", ` −${file.removed}`));
    const acceptAll = this.button("Accept file", "amr-accept-file", () => this.decideFile(file, "accepted"));
    const rejectAll = this.button("Reject file", "amr-reject-file", () => this.decideFile(file, "rejected"));
    header.append(toggle, name, tags, stats, el("span", "amr-spacer"), acceptAll, rejectAll);
    const body = el("div", "amr-file-body");
    body.dataset.path = file.path;
    const lines = Math.max(file.new.split("\n").length, file.hunks.length * 8);
    body.style.minHeight = `${Math.min(lines, 30) * 18}px`; // a placeholder's height until built
    toggle.addEventListener("click", () => {
      const folded = section.classList.toggle("amr-folded");
      toggle.textContent = folded ? "▸" : "▾";
    });
    const cards = this.findings.filter((f) => f.placement === "file" && f.path === file.path);
    section.append(header, ...cards.map((f) => this.findingCard(f, true)), body);
    this.bodies.set(file.path, body);
    this.observer?.observe(body);
    return section;
  }

  onVisible(entries: IntersectionObserverEntry[]): void {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      const path = (entry.target as HTMLElement).dataset.path ?? "";
      this.mount(path);
    }
  }

  mount(path: string): void {
    if (this.mounted.has(path)) return;
    const file = this.files.find((f) => f.path === path);
    const body = this.bodies.get(path);
    if (!file || !body) return;
    this.observer?.unobserve(body);
    body.style.minHeight = "";
    body.replaceChildren();
    const parts: { destroy(): void; refresh(): void; reveal(id: string): void }[] = [];
    if (file.view === "text") {
      for (const hunk of file.hunks.filter((h) => h.kind !== "text")) body.append(this.hunkBlock(file, hunk, parts));
      const box = el("div", "amr-editor");
      body.append(box);
      const findings = this.findings.filter((f) => f.placement === "line" && f.path === file.path);
      parts.push(this.editor(box, file.old, file.new, file.language, file.hunks.filter((h) => h.kind === "text"), findings, file.path));
    } else {
      for (const hunk of file.hunks) body.append(this.hunkBlock(file, hunk, parts));
    }
    this.mounted.set(path, {
      destroy: () => parts.forEach((p) => p.destroy()),
      refresh: () => parts.forEach((p) => p.refresh()),
      reveal: (id: string) => parts.forEach((p) => p.reveal(id)),
    });
  }

  /** A hunk drawn outside one whole-file editor: a notebook cell, a bounded hunk, a rename. */
  hunkBlock(file: FileState, hunk: HunkState, parts: { destroy(): void; refresh(): void; reveal(id: string): void }[]): HTMLElement {
    const block = el("div", "amr-block");
    block.append(this.bar(hunk));
    if (hunk.kind === "cell" || (hunk.kind === "text" && hunk.text)) {
      const sides = hunk.kind === "cell" ? { old: hunk.old, new: hunk.new, changes: hunk.changes } : sidesOfHunk(hunk.text);
      const box = el("div", "amr-editor");
      block.append(box);
      const own = { ...hunk, new_start: 0, new_end: 0, changes: sides.changes };
      const first = hunk.kind === "cell" ? [0, 0] : [hunk.old_start, hunk.new_start];
      parts.push(this.editor(box, sides.old, sides.new, hunk.language || file.language, [own], [], file.path, false, first));
      for (const note of hunk.notes) block.append(el("div", "amr-note", note));
    } else if (hunk.text) {
      const pre = el("pre", "amr-plain");
      for (const line of hunk.text.split("\n")) {
        const row = el("div", line.startsWith("+") ? "amr-plus" : line.startsWith("-") ? "amr-minus" : "", line || " ");
        pre.append(row);
      }
      block.append(pre);
    }
    parts.push({ destroy() {}, refresh() {}, reveal: (id) => id === hunk.id && block.scrollIntoView({ block: "center" }) });
    return block;
  }

  // ---- editors

  editor(
    box: HTMLElement,
    oldText: string,
    newText: string,
    language: string,
    hunks: HunkState[],
    findings: FindingState[],
    path: string,
    bars = true,
    first = [0, 0], // the real line numbers of the sides' first lines, minus one (a hunk's part)
  ): { destroy(): void; refresh(): void; reveal(id: string): void } {
    const review = this;
    const ranges = hunks.flatMap((h) => h.changes).sort((x, y) => x[0] - y[0] || x[2] - y[2]);
    const override = (a: string, b: string) => changesOf(a, b, ranges);
    const refreshEffect = StateEffect.define<null>();
    const decorations = StateField.define<DecorationSet>({
      create: (state) => review.decorate(state.doc, hunks, findings, bars),
      update: (value, tr) => (tr.effects.some((e) => e.is(refreshEffect)) ? review.decorate(tr.state.doc, hunks, findings, bars) : value),
      provide: (field) => EditorView.decorations.from(field),
    });
    const numbers = (offset: number) => lineNumbers({ formatNumber: (n) => String(n + offset) });
    const common: Extension[] = [
      EditorState.readOnly.of(true),
      EditorView.editable.of(false),
      syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
      languageOf(language),
    ];
    let views: EditorView[] = [];
    let merge: MergeView | null = null;
    let target: EditorView;
    box.dataset.path = path;
    if (this.mode === "split") {
      merge = new MergeView({
        a: { doc: oldText, extensions: [numbers(first[0]), common] },
        b: { doc: newText, extensions: [numbers(first[1]), common, decorations] },
        parent: box,
        collapseUnchanged: COLLAPSE,
        diffConfig: { override },
        gutter: true,
      });
      views = [merge.a, merge.b];
      target = merge.b;
    } else {
      target = new EditorView({
        parent: box,
        state: EditorState.create({
          doc: newText,
          extensions: [
            numbers(first[1]),
            common,
            decorations,
            unifiedMergeView({ original: oldText, mergeControls: false, collapseUnchanged: COLLAPSE, diffConfig: { override }, gutter: true }),
          ],
        }),
      });
      views = [target];
    }
    const starts = lineStarts(newText);
    return {
      destroy: () => (merge ? merge.destroy() : views.forEach((v) => v.destroy())),
      refresh: () => target.dispatch({ effects: refreshEffect.of(null) }),
      reveal: (id: string) => {
        const hunk = hunks.find((h) => h.id === id);
        if (!hunk) return;
        const first = hunk.changes.length ? hunk.changes[0][2] : hunk.new_start;
        const pos = posOf(starts, Math.max(first, 0), newText.length);
        target.dispatch({ effects: EditorView.scrollIntoView(pos, { y: "center" }) });
        box.scrollIntoView({ block: "nearest" });
      },
    };
  }

  decorate(doc: Text, hunks: HunkState[], findings: FindingState[], bars: boolean): DecorationSet {
    const items: { pos: number; deco: Decoration }[] = [];
    for (const hunk of hunks) {
      const lineNo = Math.min(hunk.new_start + 1, doc.lines);
      if (bars) items.push({ pos: doc.line(lineNo).from, deco: Decoration.widget({ widget: new BarWidget(this, hunk), block: true, side: -10 }) });
      const decision = this.decisions[hunk.id];
      const cls = `amr-line-${decision ?? "pending"}${hunk.id === this.current ? " amr-line-current" : ""}`;
      for (const [, , j1, j2] of hunk.changes) {
        for (let n = j1 + 1; n <= Math.min(j2, doc.lines); n++) items.push({ pos: doc.line(n).from, deco: Decoration.line({ class: cls }) });
      }
    }
    for (const finding of findings) {
      const n = Math.max(1, Math.min(finding.line_end || finding.line, doc.lines));
      items.push({ pos: doc.line(n).to, deco: Decoration.widget({ widget: new FindingWidget(this, finding), block: true, side: 10 }) });
    }
    return Decoration.set(items.map((item) => item.deco.range(item.pos)), true);
  }

  // ---- hunk bars and finding cards

  bar(hunk: HunkState): HTMLElement {
    const bar = el("div", "amr-hunk");
    bar.dataset.hunk = hunk.id;
    const title = el("span", "amr-hunk-title", hunk.header || hunk.id);
    const badge = el("span", "amr-badge");
    const accept = this.button("Accept", "amr-accept", () => this.decide([hunk.id], "accepted"));
    const reject = this.button("Reject", "amr-reject", () => this.decide([hunk.id], "rejected"));
    accept.title = "keep this hunk (a)";
    reject.title = "leave this hunk out (r)";
    bar.append(title, badge, el("span", "amr-spacer"), accept, reject);
    bar.addEventListener("mousedown", () => {
      this.current = hunk.id;
      this.paint();
      this.root.focus({ preventScroll: true });
    });
    this.registerBar(hunk.id, bar);
    this.paintBar(bar, hunk.id);
    return bar;
  }

  paintBar(bar: HTMLElement, id: string): void {
    const decision = this.decisions[id];
    bar.classList.toggle("amr-accepted", decision === "accepted");
    bar.classList.toggle("amr-rejected", decision === "rejected");
    bar.classList.toggle("amr-current", id === this.current);
    const badge = bar.querySelector(".amr-badge");
    if (badge) badge.textContent = decision === "accepted" ? "accepted" : decision === "rejected" ? "rejected" : "";
    bar.querySelectorAll("button").forEach((b) => ((b as HTMLButtonElement).disabled = !this.enabled));
  }

  registerBar(id: string, bar: HTMLElement): void {
    if (!this.bars.has(id)) this.bars.set(id, new Set());
    this.bars.get(id)!.add(bar);
  }

  findingCard(finding: FindingState, withLocation: boolean): HTMLElement {
    const card = el("div", `amr-finding amr-sev-${finding.severity}${finding.status === "fixed" ? " amr-fixed" : ""}`);
    const head = el("div", "amr-finding-head");
    head.append(el("span", "amr-severity", finding.severity));
    if (withLocation && finding.location) head.append(el("code", "amr-location", finding.location));
    head.append(el("span", "amr-message", finding.message));
    if (finding.status === "fixed") head.append(el("span", "amr-status", "fixed"));
    card.append(head);
    if (finding.suggestion) {
      const suggestion = el("div", "amr-suggestion");
      suggestion.append(el("b", "", "Suggestion: "), document.createTextNode(finding.suggestion));
      card.append(suggestion);
    }
    if (finding.blocking) card.append(el("div", "amr-blocking", "Blocks apply: tick “Apply despite blocker findings” to apply anyway."));
    return card;
  }

  // ---- decisions and navigation

  button(label: string, cls: string, action: () => void): HTMLButtonElement {
    const button = el("button", `amr-button ${cls}`, label);
    button.type = "button";
    button.addEventListener("click", (e) => {
      e.stopPropagation();
      action();
    });
    return button;
  }

  decide(ids: string[], decision: Decision | "pending"): void {
    if (!this.enabled || !ids.length) return;
    this.model.send({ type: "decide", ids, decision });
  }

  decideFile(file: FileState, decision: Decision): void {
    this.decide(file.hunks.map((h) => h.id), decision);
  }

  setMode(mode: Mode, tell: boolean): void {
    if (mode === this.mode && !tell) return;
    this.mode = mode;
    for (const view of this.mounted.values()) view.destroy();
    this.mounted.clear();
    for (const [path, body] of this.bodies) {
      body.replaceChildren();
      this.observer?.observe(body);
      if (this.current && this.order.find((o) => o.id === this.current)?.file.path === path) this.mount(path);
    }
    if (tell) this.model.send({ type: "mode", mode });
    this.refresh();
  }

  move(step: number): void {
    if (!this.order.length) return;
    const at = this.order.findIndex((o) => o.id === this.current);
    const next = at < 0 ? (step > 0 ? 0 : this.order.length - 1) : Math.max(0, Math.min(this.order.length - 1, at + step));
    this.goTo(this.order[next].id);
  }

  goTo(id: string): void {
    const entry = this.order.find((o) => o.id === id);
    if (!entry) return;
    this.current = id;
    this.mount(entry.file.path);
    this.mounted.get(entry.file.path)?.reveal(id);
    this.paint();
  }

  /** After a decision by key: the next undecided hunk, else the next one. */
  advance(): void {
    const at = this.order.findIndex((o) => o.id === this.current);
    const rest = [...this.order.slice(at + 1), ...this.order.slice(0, at + 1)];
    const next = rest.find((o) => !this.decisions[o.id] && o.id !== this.current);
    if (next) this.goTo(next.id);
    else if (at + 1 < this.order.length) this.goTo(this.order[at + 1].id);
  }

  onKey(event: KeyboardEvent): void {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    const entry = this.order.find((o) => o.id === this.current);
    let handled = true;
    if (key === "j" || key === "n") this.move(1);
    else if (key === "k" || key === "p") this.move(-1);
    else if ((key === "a" || key === "r" || key === "u") && this.enabled) {
      if (!entry) this.move(1);
      else {
        this.decide([entry.id], key === "a" ? "accepted" : key === "r" ? "rejected" : "pending");
        if (key !== "u") this.advance();
      }
    } else if ((key === "A" || key === "R") && this.enabled && entry) this.decideFile(entry.file, key === "A" ? "accepted" : "rejected");
    else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  // ---- painting

  refresh(): void {
    this.readDecisions();
    this.paint();
  }

  paint(): void {
    for (const [id, bars] of this.bars) for (const bar of bars) if (bar.isConnected) this.paintBar(bar, id);
    else bars.delete(bar);
    for (const view of this.mounted.values()) view.refresh();
    const counts = { accepted: 0, rejected: 0, pending: 0 };
    for (const o of this.order) counts[this.decisions[o.id] ?? "pending"] += 1;
    const added = this.files.reduce((n, f) => n + f.added, 0);
    const removed = this.files.reduce((n, f) => n + f.removed, 0);
    const change = `${this.files.length} file(s) +${added} −${removed} · ${this.order.length} hunk(s)`;
    // a saved copy is the review as delivered: what was applied is the record's to say
    this.summary.textContent = this.model.get("readonly")
      ? `${change} · read-only copy of the review as delivered`
      : `${change}: ${counts.accepted} accepted, ${counts.rejected} rejected, ${counts.pending} undecided · ` +
        (this.enabled ? String(this.model.get("apply_label") ?? "") : "decisions locked");
    this.modeButton.textContent = this.mode === "unified" ? "Side by side" : "Unified";
    this.root.classList.toggle("amr-locked", !this.enabled);
    this.root.classList.toggle("amr-readonly", !!this.model.get("readonly"));
    this.filesBox.querySelectorAll<HTMLButtonElement>(".amr-accept-file, .amr-reject-file").forEach((b) => (b.disabled = !this.enabled));
  }
}

class BarWidget extends WidgetType {
  constructor(readonly review: Review, readonly hunk: HunkState) {
    super();
  }
  eq(other: BarWidget): boolean {
    return other.hunk.id === this.hunk.id;
  }
  toDOM(): HTMLElement {
    return this.review.bar(this.hunk);
  }
  ignoreEvent(): boolean {
    return true;
  }
}

class FindingWidget extends WidgetType {
  constructor(readonly review: Review, readonly finding: FindingState) {
    super();
  }
  eq(other: FindingWidget): boolean {
    return other.finding === this.finding;
  }
  toDOM(): HTMLElement {
    return this.review.findingCard(this.finding, false);
  }
  ignoreEvent(): boolean {
    return true;
  }
}

function sortFindings(findings: FindingState[]): FindingState[] {
  return [...findings].sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity));
}

export function render({ model, el: host }: { model: Model; el: HTMLElement }): () => void {
  const review = new Review(model, host);
  const reload = () => review.load();
  const refresh = () => review.refresh();
  const focus = () => {
    const id = model.get("focus");
    if (id) review.goTo(id);
  };
  const mode = () => review.setMode(model.get("mode") === "split" ? "split" : "unified", false);
  review.load();
  const handlers: [string, () => void][] = [
    ["change:files", reload],
    ["change:findings", reload],
    ["change:decisions", refresh],
    ["change:apply_label", refresh],
    ["change:enabled", refresh],
    ["change:focus", focus],
    ["change:mode", mode],
  ];
  for (const [event, handler] of handlers) model.on(event, handler);
  return () => {
    for (const [event, handler] of handlers) model.off(event, handler);
    review.destroy();
  };
}

export default { render };

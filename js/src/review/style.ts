// The widget's styles: JupyterLab's theme variables where they exist, so dark themes work.

export const STYLE = `
.amr { font-family: var(--jp-ui-font-family, sans-serif); font-size: var(--jp-ui-font-size1, 13px);
  color: var(--jp-content-font-color1, #222); outline: none; }
.amr:focus-visible { box-shadow: 0 0 0 2px var(--jp-brand-color1, #1976d2) inset; }
.amr-toolbar { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; padding: 4px 0 6px; }
.amr-notes:empty, .amr-readonly .amr-keys { display: none; }
.amr-notes { margin: 0 0 6px; padding: 4px 8px; border-left: 3px solid var(--jp-warn-color1, #f0ad4e);
  background: var(--jp-layout-color2, #f7f3e8); color: var(--jp-content-font-color1, #222); }
.amr-keys { color: var(--jp-content-font-color2, #777); font-size: 0.9em; }
.amr-button, .amr-mode, .amr-fold { font: inherit; cursor: pointer; border-radius: 3px; padding: 1px 8px;
  border: 1px solid var(--jp-border-color1, #bbb); background: var(--jp-layout-color1, #fff);
  color: var(--jp-content-font-color1, #222); }
.amr-fold { border: none; background: none; padding: 0 4px; }
.amr-button:disabled { opacity: 0.45; cursor: default; }
.amr-accept:not(:disabled):hover, .amr-accept-file:not(:disabled):hover { background: var(--jp-success-color3, #e3f4e4); }
.amr-reject:not(:disabled):hover, .amr-reject-file:not(:disabled):hover { background: var(--jp-error-color3, #fbe5e5); }
.amr-file { border: 1px solid var(--jp-border-color2, #ddd); border-radius: 4px; margin: 6px 0; }
.amr-file-header { display: flex; gap: 8px; align-items: center; padding: 4px 6px;
  background: var(--jp-layout-color2, #f3f3f3); border-bottom: 1px solid var(--jp-border-color2, #ddd);
  position: sticky; top: 0; z-index: 3; }
.amr-path { font-family: var(--jp-code-font-family, monospace); font-weight: 600; word-break: break-all; }
.amr-tag { font-size: 0.85em; padding: 0 5px; border-radius: 8px; background: var(--jp-layout-color3, #ddd); }
.amr-tag-added { background: #d6f0d8; } .amr-tag-deleted { background: #f6d6d6; }
.amr-added { color: #2e7d32; } .amr-removed { color: #b00020; }
.amr-spacer { flex: 1; }
.amr-folded .amr-file-body, .amr-folded .amr-finding { display: none; }
.amr-editor .cm-editor { max-height: 70vh; }
.amr-editor .cm-scroller { overflow: auto; font-family: var(--jp-code-font-family, monospace);
  font-size: var(--jp-code-font-size, 13px); }
.amr-editor .cm-mergeView { max-height: 70vh; overflow: auto; }
.amr-editor .cm-mergeView .cm-editor { max-height: none; }
.amr-hunk { display: flex; gap: 8px; align-items: center; padding: 2px 6px; margin: 2px 0;
  font-family: var(--jp-ui-font-family, sans-serif); font-size: var(--jp-ui-font-size1, 13px);
  background: var(--jp-layout-color2, #eef2f7); border-left: 3px solid var(--jp-border-color1, #999); }
.amr-hunk-title { font-family: var(--jp-code-font-family, monospace); color: var(--jp-content-font-color2, #555);
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.amr-hunk.amr-accepted { border-left-color: var(--jp-success-color1, #2e7d32); background: var(--jp-success-color3, #e8f5e9); }
.amr-hunk.amr-rejected { border-left-color: var(--jp-error-color1, #b00020); background: var(--jp-error-color3, #fdecea); }
.amr-hunk.amr-current { outline: 2px solid var(--jp-brand-color1, #1976d2); outline-offset: -2px; }
.amr-badge { font-size: 0.85em; font-weight: 600; }
.amr-accepted .amr-badge { color: #2e7d32; } .amr-rejected .amr-badge { color: #b00020; }
.amr-line-accepted { box-shadow: inset 3px 0 0 #2e7d32; }
.amr-line-rejected { opacity: 0.45; text-decoration: line-through; }
.amr-line-current { box-shadow: inset 3px 0 0 var(--jp-brand-color1, #1976d2); }
.amr-block { margin: 4px 6px 8px; }
.amr-note { font-size: 0.9em; color: var(--jp-content-font-color2, #555); padding: 2px 6px; font-style: italic; }
.amr-plain { margin: 0; padding: 4px 6px; font-family: var(--jp-code-font-family, monospace); font-size: 12px;
  white-space: pre-wrap; max-height: 30em; overflow: auto; }
.amr-plus { background: rgba(46, 160, 67, 0.15); } .amr-minus { background: rgba(248, 81, 73, 0.15); }
.amr-finding { margin: 3px 6px; padding: 4px 8px; border-radius: 3px; border-left: 4px solid #888;
  background: var(--jp-layout-color1, #fff); font-family: var(--jp-ui-font-family, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); white-space: normal; }
.amr-finding-head { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.amr-severity { font-weight: 700; text-transform: uppercase; font-size: 0.8em; }
.amr-sev-blocker { border-left-color: var(--jp-error-color1, #b00020); background: var(--jp-error-color3, #fdecea); } .amr-sev-blocker .amr-severity { color: #b00020; }
.amr-sev-major { border-left-color: var(--jp-warn-color0, #d9480f); background: var(--jp-warn-color3, #fff4e6); } .amr-sev-major .amr-severity { color: #d9480f; }
.amr-sev-minor { border-left-color: var(--jp-warn-color2, #b08800); background: var(--jp-layout-color2, #fffbe6); } .amr-sev-minor .amr-severity { color: #8a6d00; }
.amr-sev-nit .amr-severity { color: #666; }
.amr-fixed { opacity: 0.7; } .amr-status { font-style: italic; color: #2e7d32; }
.amr-suggestion { margin-top: 2px; white-space: pre-wrap; }
.amr-blocking { margin-top: 2px; font-weight: 600; color: #b00020; }
.amr-top .amr-finding { margin: 3px 0; }
/* inside an editor: as wide as the visible pane, never widening it (long text wraps) */
.cm-content .amr-finding, .cm-content .amr-hunk { box-sizing: border-box; width: 0;
  min-width: calc(100% - 12px); }
.cm-content .amr-hunk { min-width: 100%; }
.amr-editor .cm-collapsedLines::before, .amr-editor .cm-collapsedLines::after { content: ""; }
.amr-editor .cm-collapsedLines { font-family: var(--jp-ui-font-family, sans-serif); font-style: italic; }
.amr-locked .amr-hunk { opacity: 0.85; }
`;

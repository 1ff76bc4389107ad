/**
 * A notebook's saved copy of an agent_magic review, drawn read-only where the live widget
 * cannot be shown: JupyterLab 4 and Notebook 7 restore no widget without a kernel, and a new
 * kernel restores one only if "Save Widget State Automatically" was on (off by default).
 *
 * The kernel puts the copy (REVIEW_MIME, see agent_magic/ui/reviewsnapshot.py) in the review's
 * cell output beside the widget's view. This renderer is registered per notebook ahead of
 * ipywidgets' view renderer (which sits at rank -10), for that type only: when the notebook's
 * kernel holds the widget it shows ipywidgets' own renderer (the live review, as without this
 * extension); otherwise it draws the copy with the widget's own code (./review) through a model
 * that only reads, and says that deciding needs the kernel that made it. Every output without
 * the type is not ours and renders exactly as before. Nothing here builds HTML from data, so the
 * copy is safe to draw in an untrusted notebook (where the live widget is never tried).
 */
import { ISessionContext } from '@jupyterlab/apputils';
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { Panel, Widget } from '@lumino/widgets';

import type { Model } from './review/index';

export const REVIEW_MIME = 'application/vnd.agent-magic.review+json';
const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const VERSION = 1;
// before ipywidgets' widget view (-10): for outputs carrying both, this renderer chooses
const RANK = -20;
const WIDGET_TARGET = 'jupyter.widget'; // ipywidgets' comm target; a comm id is a model id
const MANAGER_WAIT_MS = 10_000; // for ipywidgets to bind its renderer to the kernel's widgets
const HINT =
  'Saved copy of this review, read-only: Accept/Reject, Apply and Undo need the kernel ' +
  'that made it.';
const RUNNING =
  'agent_magic: the run had not delivered its review when this notebook was saved.';
const UNREADABLE =
  'agent_magic: this saved review cannot be drawn here (saved by another version?).';

interface Snapshot {
  version: number;
  state: string;
  files: unknown[];
  findings: unknown[];
  decisions: Record<string, string>;
  mode: string;
  notes: string[];
  session: string;
  applied: string;
}

/** The copy, if it has the shape this version draws. */
function parse(data: unknown): Snapshot | null {
  if (!data || typeof data !== 'object') {
    return null;
  }
  const d = data as Record<string, unknown>;
  if (d.version !== VERSION || !Array.isArray(d.files) || !Array.isArray(d.findings)) {
    return null;
  }
  return {
    version: VERSION,
    state: String(d.state),
    files: d.files,
    findings: d.findings,
    decisions:
      d.decisions && typeof d.decisions === 'object'
        ? (d.decisions as Record<string, string>)
        : {},
    mode: d.mode === 'split' ? 'split' : 'unified',
    notes: Array.isArray(d.notes) ? d.notes.filter(n => typeof n === 'string') : [],
    session: typeof d.session === 'string' ? d.session : '',
    applied: typeof d.applied === 'string' ? d.applied : ''
  };
}

/** What a reader can do without the kernel: an agent session applies from any kernel, and an
 * applied change is undone from any kernel. */
function hint(session: string, applied: string): string {
  if (applied) {
    return (
      `${HINT} The change was applied as checkpoint ${applied}: from any kernel, ` +
      `%agent undo ${applied} takes it back.`
    );
  }
  return session
    ? `${HINT} From any kernel, %agent apply ${session} applies the whole change ` +
        `(%agent show ${session} prints the session).`
    : HINT;
}

/** The widget's model contract with nothing behind it: it reads the copy, and sends nowhere. */
function readOnly(copy: Snapshot): Model {
  const values: Record<string, unknown> = {
    files: copy.files,
    findings: copy.findings,
    decisions: copy.decisions,
    mode: copy.mode,
    enabled: false,
    readonly: true,
    notes: [hint(copy.session, copy.applied), ...copy.notes]
  };
  return {
    get: (name: string) => values[name],
    on: () => undefined,
    off: () => undefined,
    send: () => undefined
  };
}

/** The saved copy drawn by the review's own code; its listeners go with it. */
class CopyView extends Widget {
  private cleanup: (() => void) | null = null;

  constructor(data: unknown) {
    super();
    this.addClass('agent-magic-saved-review');
    const copy = parse(data);
    if (copy === null || copy.state !== 'ready') {
      this.node.textContent = copy === null ? UNREADABLE : RUNNING;
      return;
    }
    void this.draw(copy);
  }

  private async draw(copy: Snapshot): Promise<void> {
    try {
      // the review's code (CodeMirror's merge view, languages) loads only when a copy is drawn
      const { render } = await import('./review/index');
      if (!this.isDisposed) {
        this.cleanup = render({ model: readOnly(copy), el: this.node });
      }
    } catch (error) {
      console.error('agent_magic: the saved review could not be drawn', error);
      this.node.textContent = UNREADABLE;
    }
  }

  dispose(): void {
    this.cleanup?.();
    this.cleanup = null;
    super.dispose();
  }
}

/** Which widget models this notebook's kernel holds (ipywidgets: comm id = model id). */
class KernelWidgets {
  private open = new Set<string>();
  private kernel: Kernel.IKernelConnection | null = null;

  constructor(private session: ISessionContext) {
    session.kernelChanged.connect(this.follow, this);
    this.follow();
  }

  /** Known without asking: the kernel opened it while this page listened. */
  has(id: string): boolean {
    return this.open.has(id);
  }

  /** Whether the kernel holds the widget now; no kernel (or no answer) is no. */
  async holds(id: string): Promise<boolean> {
    if (this.open.has(id)) {
      return true;
    }
    await this.session.ready;
    const kernel = this.session.session?.kernel;
    if (!kernel) {
      return false;
    }
    try {
      const reply = await kernel.requestCommInfo({ target_name: WIDGET_TARGET });
      const held = reply.content.status === 'ok' && id in reply.content.comms;
      if (held && kernel === this.kernel) {
        this.open.add(id); // until its comm_close
      }
      return held;
    } catch {
      return false;
    }
  }

  dispose(): void {
    this.session.kernelChanged.disconnect(this.follow, this);
    this.watch(null);
  }

  private follow(): void {
    this.watch(this.session.session?.kernel ?? null);
  }

  private watch(kernel: Kernel.IKernelConnection | null): void {
    if (this.kernel) {
      this.kernel.iopubMessage.disconnect(this.onMessage, this);
      this.kernel.statusChanged.disconnect(this.onStatus, this);
    }
    this.open.clear();
    this.kernel = kernel;
    if (kernel) {
      kernel.iopubMessage.connect(this.onMessage, this);
      kernel.statusChanged.connect(this.onStatus, this);
    }
  }

  private onMessage(
    _kernel: Kernel.IKernelConnection,
    msg: KernelMessage.IIOPubMessage
  ): void {
    if (KernelMessage.isCommOpenMsg(msg) && msg.content.target_name === WIDGET_TARGET) {
      this.open.add(msg.content.comm_id);
    } else if (KernelMessage.isCommCloseMsg(msg)) {
      this.open.delete(msg.content.comm_id);
    }
  }

  private onStatus(_kernel: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this.open.clear(); // its widgets died with it
    }
  }
}

/** What the renderers of one notebook share. */
class NotebookReviews {
  readonly widgets: KernelWidgets;

  constructor(
    readonly rendermime: IRenderMimeRegistry,
    private app: IRenderMimeRegistry,
    private panel: NotebookPanel
  ) {
    this.widgets = new KernelWidgets(panel.sessionContext);
  }

  /**
   * Whether ipywidgets can show the widget: the kernel holds it, or a kernel is attached and
   * the notebook saved the widget's state ("Save Widget State Automatically"), which
   * ipywidgets restores then, as it did before this extension (without a kernel it cannot).
   */
  async live(id: string): Promise<boolean> {
    if (await this.widgets.holds(id)) {
      return true;
    }
    return !!this.panel.sessionContext.session?.kernel && this.savedState(id);
  }

  private savedState(id: string): boolean {
    const saved = this.panel.context.model.getMetadata('widgets') as
      | { [mime: string]: { state?: { [id: string]: unknown } } }
      | undefined;
    const state = saved?.['application/vnd.jupyter.widget-state+json']?.state;
    return !!state && typeof state === 'object' && id in state;
  }

  /** Whether widget views render here at all (ipywidgets is installed). */
  get hasWidgets(): boolean {
    return this.rendermime.getFactory(WIDGET_MIME) !== undefined;
  }

  /**
   * Whether ipywidgets has bound this notebook's widget view renderer to its widget manager.
   * Until then the notebook holds the app's placeholder, whose views never load.
   */
  async managerBound(): Promise<boolean> {
    for (let waited = 0; ; waited += 100) {
      const factory = this.rendermime.getFactory(WIDGET_MIME);
      if (factory !== undefined && factory !== this.app.getFactory(WIDGET_MIME)) {
        return true;
      }
      if (waited >= MANAGER_WAIT_MS) {
        return false;
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  }
}

/** The renderer of REVIEW_MIME: the live widget when the kernel holds it, else the copy. */
class SavedReviewRenderer extends Panel implements IRenderMime.IRenderer {
  private liveId = '';
  private generation = 0;

  constructor(private notebook: NotebookReviews) {
    super();
    this.addClass('agent-magic-review-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const generation = ++this.generation;
    const view = model.data[WIDGET_MIME] as { model_id?: unknown } | undefined;
    const id = typeof view?.model_id === 'string' ? view.model_id : '';
    if (id && id === this.liveId) {
      return; // a display update of the live widget (its copy changed): the view stays
    }
    // the live widget is tried only where ipywidgets would have drawn it: a trusted output
    const mayBeLive = model.trusted && id !== '' && this.notebook.hasWidgets;
    if (mayBeLive && this.notebook.widgets.has(id)) {
      await this.showLive(model, id, generation, false);
      return;
    }
    this.clear();
    this.liveId = '';
    this.addWidget(new CopyView(model.data[REVIEW_MIME]));
    if (mayBeLive && (await this.notebook.live(id))) {
      await this.showLive(model, id, generation, true);
    }
  }

  private async showLive(
    model: IRenderMime.IMimeModel,
    id: string,
    generation: number,
    copyShown: boolean
  ): Promise<void> {
    if (!(await this.notebook.managerBound()) || this.stale(generation)) {
      if (!copyShown && !this.stale(generation)) {
        this.clear();
        this.addWidget(new CopyView(model.data[REVIEW_MIME]));
      }
      return;
    }
    const live = this.notebook.rendermime.createRenderer(WIDGET_MIME);
    if (!copyShown) {
      this.clear();
      this.addWidget(live);
      this.liveId = id;
      await live.renderModel(model);
      return;
    }
    // the copy stays in sight until the live view is drawn, then gives way to it
    live.hide();
    this.addWidget(live);
    try {
      await live.renderModel(model);
    } catch (error) {
      if (!this.stale(generation)) {
        throw error;
      }
    }
    if (this.stale(generation)) {
      live.dispose(); // a later render took this output over
      return;
    }
    for (const child of [...this.widgets]) {
      if (child !== live) {
        child.dispose();
      }
    }
    live.show();
    this.liveId = id;
  }

  private stale(generation: number): boolean {
    return this.isDisposed || generation !== this.generation;
  }

  private clear(): void {
    for (const child of [...this.widgets]) {
      child.dispose();
    }
  }
}

/**
 * Registers the renderer in every notebook as it is created (a document widget extension runs
 * before the notebook draws its outputs). Consoles and other output areas are left alone.
 */
export const savedReviewPlugin: JupyterFrontEndPlugin<void> = {
  id: 'agent-magic-live:saved-review',
  description: "Draws a notebook's saved agent_magic review when no kernel holds its widget.",
  autoStart: true,
  requires: [IRenderMimeRegistry],
  activate: (app: JupyterFrontEnd, rendermime: IRenderMimeRegistry) => {
    app.docRegistry.addWidgetExtension('Notebook', {
      createNew: (panel: Widget) => {
        if (!(panel instanceof NotebookPanel)) {
          return;
        }
        const reviews = new NotebookReviews(panel.content.rendermime, rendermime, panel);
        panel.content.rendermime.addFactory(
          {
            safe: true,
            mimeTypes: [REVIEW_MIME],
            createRenderer: () => new SavedReviewRenderer(reviews)
          },
          RANK
        );
        panel.disposed.connect(() => reviews.widgets.dispose());
      }
    });
  }
};

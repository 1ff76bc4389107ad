/**
 * agent_magic's frontend: lets the kernel read and change the notebooks open in this
 * JupyterLab / Notebook 7 page, so the agent stages against what the user sees (unsaved edits
 * included) and Apply changes the open document, cell by cell, then saves it through the page.
 *
 * The kernel opens a comm to TARGET; every message is a request {id, op, ...} answered with
 * {id, ok, error?, ...}. The protocol is described in agent_magic/livedoc.py.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { savedReviewPlugin } from './savedreview';

const TARGET = 'agent_magic.live';
const VERSION = 1;

type Request = { id: string; op: string; [key: string]: any };
type Reply = { [key: string]: any };
type CellOp = {
  op: 'set_source' | 'delete' | 'insert';
  id?: string;
  expect?: string;
  source?: string;
  cell_type?: string;
  after?: string | null;
  cell?: any;
};

function sourceOf(cell: any): string {
  const text = cell.getSource();
  return typeof text === 'string' ? text : JSON.stringify(text);
}

class Handler {
  constructor(
    private tracker: INotebookTracker,
    private docManager: IDocumentManager,
    private kernel: Kernel.IKernelConnection
  ) {}

  async handle(request: Request): Promise<Reply> {
    switch (request.op) {
      case 'hello':
        return { version: VERSION, session_path: this.sessionPath() };
      case 'read':
        return this.read(String(request.path));
      case 'apply':
        return this.apply(String(request.path), request.ops as CellOp[]);
      case 'revert':
        return this.revert(String(request.path));
      default:
        throw new Error(`unknown request ${request.op}`);
    }
  }

  /** The path of the notebook this kernel runs for. */
  private sessionPath(): string {
    const panel = this.tracker.find(
      p => p.sessionContext.session?.kernel?.id === this.kernel.id
    );
    return panel ? panel.context.path : '';
  }

  private read(path: string): Reply {
    const widget = this.docManager.findWidget(path);
    const context = widget ? this.docManager.contextForWidget(widget) : undefined;
    if (!widget || !context) {
      return { open: false };
    }
    const notebook = widget instanceof NotebookPanel;
    return {
      open: true,
      kind: notebook ? 'notebook' : 'file',
      dirty: context.model.dirty,
      content: notebook ? context.model.toJSON() : context.model.toString()
    };
  }

  private async apply(path: string, ops: CellOp[]): Promise<Reply> {
    const widget = this.docManager.findWidget(path);
    if (!(widget instanceof NotebookPanel)) {
      throw new Error(`${path} is not open as a notebook`);
    }
    const shared = widget.context.model.sharedModel;
    const index = (id: string) => shared.cells.findIndex(c => c.getId() === id);
    // every expectation first: a cell the user changed refuses the whole batch
    const conflicts: string[] = [];
    for (const op of ops) {
      if (op.op === 'insert') {
        if (op.after && index(op.after) < 0) {
          conflicts.push(op.after);
        }
        continue;
      }
      const at = index(String(op.id));
      if (at < 0 || sourceOf(shared.cells[at]) !== op.expect) {
        conflicts.push(String(op.id));
      }
    }
    if (conflicts.length) {
      return { applied: 0, conflicts };
    }
    shared.transact(() => {
      for (const op of ops) {
        if (op.op === 'set_source') {
          const at = index(String(op.id));
          const cell = shared.cells[at];
          if (op.cell_type && cell.cell_type !== op.cell_type) {
            shared.deleteCell(at);
            shared.insertCell(at, {
              id: op.id,
              cell_type: op.cell_type as any,
              source: op.source ?? '',
              metadata: {}
            });
          } else {
            cell.setSource(op.source ?? '');
          }
        } else if (op.op === 'delete') {
          shared.deleteCell(index(String(op.id)));
        } else if (op.op === 'insert') {
          const at = op.after ? index(op.after) + 1 : 0;
          shared.insertCell(at, op.cell);
        }
      }
    });
    await widget.context.save();
    return { applied: ops.length, conflicts: [] };
  }

  private async revert(path: string): Promise<Reply> {
    const widget = this.docManager.findWidget(path);
    const context = widget ? this.docManager.contextForWidget(widget) : undefined;
    if (!widget || !context) {
      return { open: false, reverted: false };
    }
    if (context.model.dirty) {
      return { open: true, reverted: false, dirty: true };
    }
    await context.revert();
    return { open: true, reverted: true, dirty: false };
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'agent-magic-live:plugin',
  description:
    'Lets agent_magic stage against and apply through the open notebook.',
  autoStart: true,
  requires: [INotebookTracker, IDocumentManager],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    docManager: IDocumentManager
  ) => {
    const registered = new WeakSet<Kernel.IKernelConnection>();
    const attach = (panel: NotebookPanel) => {
      const kernel = panel.sessionContext.session?.kernel;
      if (!kernel || registered.has(kernel)) {
        return;
      }
      registered.add(kernel);
      const handler = new Handler(tracker, docManager, kernel);
      const answer = async (comm: Kernel.IComm, request: Request) => {
        let reply: Reply;
        try {
          reply = { id: request.id, ok: true, ...(await handler.handle(request)) };
        } catch (error) {
          reply = { id: request.id, ok: false, error: String(error) };
        }
        // JupyterLab starts this comm's kernel subshell in the background; a reply sent
        // before it runs would wait in the kernel behind the cell that is running
        await (comm as any).subshellStarted?.catch(() => undefined);
        if (!comm.isDisposed) {
          comm.send(reply as any);
        }
      };
      kernel.registerCommTarget(TARGET, comm => {
        // answer off the kernel's message chain: awaiting in onMsg would hold it, and with it
        // the reply that starts this comm's subshell
        comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
          void answer(comm, msg.content.data as Request);
        };
      });
    };
    const watch = (panel: NotebookPanel) => {
      panel.sessionContext.kernelChanged.connect(() => attach(panel));
      void panel.sessionContext.ready.then(() => attach(panel));
    };
    tracker.widgetAdded.connect((_, panel) => watch(panel));
    tracker.forEach(watch);
  }
};

export default [plugin, savedReviewPlugin];

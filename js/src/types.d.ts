// The shapes the kernel syncs to the panel (see sensenova_widget/panel/panel_state.py) and the model
// interface anywidget hands to render(). Only types: nothing here reaches the bundle.

export interface Attachment {
  kind?: string;
  label?: string;
  thumb?: string | null;
}

export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface Turn {
  id: string;
  role: "user" | "assistant" | string;
  text?: string;
  status?: string;
  model?: string | null;
  notice?: string | null;
  omitted?: string[];
  error?: string | null;
  retry?: boolean;
  usage?: Usage | null;
  /** a reasoning model's thinking, shown apart above the answer (never part of `text`) */
  reasoning?: string;
  thought_seconds?: number | null;
  attachments?: Attachment[];
  sent?: boolean;
  /** the index of the turn this message or reply belongs to (null while it is being asked) */
  turn?: number | null;
  /** the service refused this message (code 17 or 18): shown, never sent again as it is */
  refused?: boolean;
  /** how many answers the turn has (regenerate keeps the earlier ones), and which one shows */
  answers?: number;
  chosen?: number;
  [key: string]: unknown;
}

export interface StagedItem {
  id: string;
  kind: string;
  label: string;
  thumb?: string | null;
  /** a context chip's text, exactly as it is sent after the message */
  text?: string;
}

/** One field of the settings form, as the kernel describes it (protocol.PARAMETERS). */
export interface ParamSpec {
  label?: string;
  /** "number", "toggle", "textarea"; "picker": the toolbar's model menu */
  kind?: string;
  allowed: string;
  min?: number | null;
  /** null: no upper bound */
  max?: number | null;
  min_inclusive?: boolean;
  max_inclusive?: boolean;
  integer?: boolean;
  step?: string | null;
  default?: number | null;
  hint?: string;
  title?: string;
  /** a synced trait that must be true for the field to show */
  shown_if?: string | null;
}

export interface Limits {
  max_images?: number;
  max_videos?: number;
}

export interface PanelSettings {
  model?: string | null;
  system?: string | null;
  thinking?: boolean | null;
  [param: string]: string | number | boolean | null | undefined;
}

/** The synced traits of ChatPanel. */
export interface Traits {
  conversation: Turn[];
  staged: StagedItem[];
  settings: PanelSettings;
  models: string[];
  /** why the model list did not load ("" when it did) */
  models_error: string;
  parameters: Record<string, ParamSpec>;
  limits: Limits;
  busy: boolean;
  conversation_name: string;
  /** a newer panel shows this conversation: this view takes no more input */
  superseded: boolean;
  thinks: boolean;
}

/** A custom message from the kernel: an RPC response or a streamed delta. */
export interface KernelMessage {
  type?: string;
  id?: string;
  ok?: boolean;
  result?: unknown;
  error?: string;
  turn?: string;
  offset?: number;
  text?: string;
  reasoning?: string;
}

/** The part of anywidget's model the panel uses. */
export interface PanelModel {
  get<K extends keyof Traits>(name: K): Traits[K] | undefined;
  set<K extends keyof Traits>(name: K, value: Traits[K]): void;
  save_changes(): void;
  send(content: object, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
  on(event: string, handler: (...args: any[]) => void): void;
  off(event: string, handler: (...args: any[]) => void): void;
  /** The widget manager (JupyterLab's has the kernel connection): read only to notice the kernel going. */
  widget_manager?: unknown;
}

/** A kernel request that shows its failure in the panel and resolves to null then. */
export type Call = (method: string, params: object, buffers?: ArrayBuffer[]) => Promise<any>;

/** What the buttons of a turn do (`turn`: the index of the turn in the conversation). */
export interface TurnActions {
  onEdit: (turn: number) => void;
  onRegenerate: (turn: number) => void;
  onRetry: (turn: number) => void;
  /** show answer `answer` (from 0) of turn `turn`: the `< 2/3 >` of a regenerated reply */
  onChoose: (turn: number, answer: number) => void;
}

export interface TurnContext extends TurnActions {
  busy: boolean;
  isLastUser: boolean;
  isLastAssistant: boolean;
  /** Leave the Markdown for later (an older turn of a long log): the body shows the plain text. */
  deferMarkdown?: boolean;
}

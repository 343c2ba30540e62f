// A tiny DOM builder: text always goes in as text nodes (never HTML), so hostile debtor data stays inert.
import { ApiError, type Artefact } from "./api";
import { dateTime, day, money, words } from "./format";

type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | ((event: any) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let uid = 0;
export const nextId = (prefix: string) => `${prefix}-${++uid}`;

/** A labelled control: the label names it for screen readers and axe (for/id). */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  control.id ||= nextId("f");
  const hintId = hint ? nextId("hint") : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control, hint ? h("small", { id: hintId }, hint) : null);
}

export function select(name: string, options: [string, string][], value = ""): HTMLSelectElement {
  const element = h("select", { name });
  for (const [optionValue, text] of options) element.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  return element;
}

export function announce(message: string): void {
  const status = document.getElementById("status");
  if (status) status.textContent = message;
}

/** The API's refusal in words: its own message, with what the code means for the person acting. */
const MEANINGS: Record<string, string> = {
  already_on_hold: "The invoice already has a hold: resume it first.",
  not_on_hold: "The invoice is not on hold: there is nothing to resume or resolve.",
  collection_not_started: "Collection has not started on this invoice yet: its first step makes the plan.",
  reply_pending: "The customer replied: read the reply (Today, replies to read) and mark it done first.",
  invalid_until: "The date must be in the future.",
  invalid_plan: "The instalments must be in order, start from today and add up to the balance.",
  unknown_step: "The policy has no such step for this customer.",
  step_done: "That step was already sent.",
  task_closed: "Someone has already done this task.",
  version_exists: "Someone published a version meanwhile: reload the page and start from it.",
  invalid_policy: "The draft is not a valid policy.",
  invalid_field: "A field is not valid.",
  statement_incomplete: "The customer's data is not complete enough to print a statement.",
  timed_out: "The dry run took longer than its function may run.",
  invoice_closed: "The invoice is closed: there is nothing to collect.",
  outside_contact_hours: "It is outside the debtor's contact hours: the step can be sent when they open.",
  contacted_recently: "The customer was contacted recently: the policy's gap between messages is not over.",
  step_in_progress: "The workflow is sending that step right now.",
  nothing_to_escalate: "No step is left to send.",
  on_hold: "The invoice is on hold: release the hold first.",
  invalid_request: "A value is not valid.",
  forbidden: "Your role may not do this.",
};

export function refusal(error: unknown): HTMLElement {
  const box = h("div", { class: "error", role: "alert" });
  if (error instanceof ApiError) {
    box.append(h("strong", {}, "Refused: "), error.message);
    const meaning = MEANINGS[error.code];
    if (meaning) box.append(" ", meaning);
    box.append(h("span", { class: "code" }, ` (${error.code}${error.status ? `, HTTP ${error.status}` : ""})`));
    for (const detail of error.details as { loc?: string[]; msg?: string }[]) {
      if (detail && typeof detail === "object" && detail.msg) box.append(h("div", {}, `${(detail.loc ?? []).slice(-1)[0] ?? ""}: ${detail.msg}`));
    }
  } else {
    box.append(h("strong", {}, "Something went wrong: "), error instanceof Error ? error.message : String(error));
  }
  return box;
}

export const loading = (what: string) => h("p", { class: "loading", role: "status" }, `Loading ${what}…`);

/** Show `what` loading in `target`, then what `build` makes of the data, or the error in words. */
export async function load<T>(target: HTMLElement, what: string, fetcher: () => Promise<T>, build: (data: T) => Node | Node[]): Promise<void> {
  target.replaceChildren(loading(what));
  target.setAttribute("aria-busy", "true");
  try {
    const data = await fetcher();
    const built = build(data);
    target.replaceChildren(...(Array.isArray(built) ? built : [built]));
    // A view whose heading comes with its data (an invoice, a customer): focus moves to it once it is there,
    // unless the person has moved on meanwhile.
    const heading = target.querySelector<HTMLElement>("h1[tabindex]");
    if (heading && (document.activeElement === document.body || document.activeElement?.id === "main")) heading.focus();
  } catch (error) {
    target.replaceChildren(refusal(error));
  } finally {
    target.removeAttribute("aria-busy");
  }
}

export function table(caption: string, headers: string[], rows: Child[][], numeric: number[] = []): HTMLTableElement {
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((text, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, text)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map((cell, i) => h("td", { class: numeric.includes(i) ? "num" : null }, cell))))));
}

/** Ask before what cannot be undone: a modal dialog (focus moves into it, Escape cancels). */
export function confirmDialog(question: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = nextId("dlg");
    const cancel = h("button", { type: "button", value: "cancel" }, "Cancel");
    const confirm = h("button", { type: "button", value: "confirm", class: "danger" }, confirmLabel);
    const dialog = h("dialog", { "aria-labelledby": titleId }, h("p", { id: titleId }, question), h("div", { class: "buttons" }, cancel, confirm));
    const finish = (answer: boolean) => { dialog.close(); dialog.remove(); resolve(answer); };
    cancel.addEventListener("click", () => finish(false));
    confirm.addEventListener("click", () => finish(true));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(false); });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** A link to a stored email, letter or statement (a presigned link in AWS): opens in a new tab. */
export const opener = (url: string, text: string) => h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text);

/** An entry's emails and letters, each its own link (or its kind, when the API gave no link). */
export function artefactLinks(artefacts: Artefact[]): HTMLElement | string {
  if (!artefacts.length) return "";
  return h("ul", { class: "links" }, artefacts.map((a) => h("li", {}, a.download_url ? opener(a.download_url, `open ${words(a.kind)}`) : words(a.kind))));
}

const MONEY_KEY = /^(amount|amount_.*|.*_amount|balance|total_claimed|principal|compensation|fee|fees)$/;

/** A log entry's details: its plain values in words (money in the currency, moments in the user's locale), and what
 * is nested (a plan, a change, interest) in a disclosure with the whole record, so every value stays readable. */
export function detailsView(details: Record<string, unknown>, currency: string): Node | string {
  const entries = Object.entries(details ?? {}).filter(([, v]) => v !== null && v !== "" && !(Array.isArray(v) && !v.length));
  const plain = entries.filter(([, v]) => typeof v !== "object");
  const nested = entries.filter(([, v]) => typeof v === "object");
  const unit = typeof details?.currency === "string" ? details.currency : currency;
  const value = (key: string, v: unknown) =>
    typeof v === "number" && MONEY_KEY.test(key) ? money(v, unit)
      : typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v) ? dateTime(v)
        : typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v) ? day(v) : String(v);
  const text = plain.filter(([k]) => k !== "currency").map(([k, v]) => `${words(k)}: ${value(k, v)}`).join("; ");
  if (!nested.length) return text;
  return h("div", {}, text, h("details", { class: "more" }, h("summary", {}, nested.map(([k]) => words(k)).join(", ")),
    h("pre", { class: "code" }, JSON.stringify(Object.fromEntries(nested), null, 2))));
}

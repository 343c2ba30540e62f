// One invoice: its facts, the timeline (every log entry, delivery status, emails and letters to open), the planned
// steps, and every action the API offers; a refusal is shown in words next to the action that was refused.
import * as api from "../api";
import { announce, artefactLinks, confirmDialog, detailsView, field, h, load, refusal, select, table } from "../dom";
import { dateTime, day, major, money, words } from "../format";

// `confirm`: the question asked before an action that cannot be undone (a message sent, a step dropped, a write-off).
type Build = (invoice: api.InvoiceDetail) => { label: string; controls: HTMLElement[]; body: () => Record<string, unknown>; confirm?: () => string };

const reason = (label = "Reason (for the record)") => {
  const input = h("input", { name: "reason", type: "text", maxlength: "500" });
  return { input, control: field(label, input) };
};

/** A date input's day as the start of that day in the user's time zone, as an ISO instant. */
const startOfDay = (value: string) => (value ? new Date(`${value}T00:00:00`).toISOString() : "");

const ACTIONS: [api.ActionName, Build][] = [
  ["pause", () => {
    const until = h("input", { name: "until", type: "date", required: true });
    const r = reason();
    return { label: "Pause", controls: [field("No contact before", until), r.control], body: () => ({ until: startOfDay(until.value), reason: r.input.value }) };
  }],
  ["resume", () => {
    const r = reason();
    return { label: "Resume", controls: [r.control], body: () => ({ reason: r.input.value }) };
  }],
  ["dispute", () => {
    const text = h("input", { name: "reason", type: "text", required: true, maxlength: "500" });
    return { label: "Open a dispute", controls: [field("What the debtor contests", text)], body: () => ({ reason: text.value }) };
  }],
  ["resolve", () => {
    const r = reason("How it was resolved");
    return { label: "Resolve the dispute", controls: [r.control], body: () => ({ reason: r.input.value }) };
  }],
  ["promise", () => {
    const on = h("input", { name: "promised_on", type: "date", required: true });
    const r = reason();
    return { label: "Record a promise to pay", controls: [field("Promised to pay by", on), r.control], body: () => ({ promised_on: on.value, reason: r.input.value }) };
  }],
  ["payment_plan", (detail) => {
    const lines = h("textarea", { name: "instalments", rows: "3", required: true });
    const r = reason();
    const currency = detail.invoice.currency;
    const unit = major(1, currency);
    return {
      label: "Agree a payment plan",
      controls: [field("Instalments", lines, `One a line: date and amount in ${currency}, e.g. 2026-11-30 250.00; they add up to the balance`), r.control],
      body: () => ({
        reason: r.input.value,
        instalments: lines.value.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
          const [due_on, amount] = line.split(/[\s,;]+/);
          return { due_on, amount: Math.round(Number(amount) / unit) };
        }),
      }),
    };
  }],
  ["escalate", (detail) => {
    const r = reason();
    const next = detail.planned[0];
    return {
      label: "Escalate now (send the next step)", controls: [r.control], body: () => ({ reason: r.input.value }),
      confirm: () => `Send ${next ? `${next.step_id} (${words(next.channel)}, planned ${dateTime(next.at)})` : "the next step"} to ${detail.customer_name ?? "the debtor"} now? What is sent cannot be recalled.`,
    };
  }],
  ["skip", (detail) => {
    const step = select("step_id", detail.planned.map((p): [string, string] => [p.step_id, `${p.step_id} (${dateTime(p.at)})`]));
    step.required = true;
    const r = reason();
    return {
      label: "Skip a step", controls: [field("Step to leave out", step), r.control], body: () => ({ step_id: step.value, reason: r.input.value }),
      confirm: () => `Leave ${step.value} out of ${detail.invoice.number}'s plan? A skipped step is not sent later.`,
    };
  }],
  ["write_off", (detail) => {
    const r = reason("Why it is written off");
    return {
      label: "Write off", controls: [r.control], body: () => ({ reason: r.input.value }),
      confirm: () => `Write off ${detail.invoice.number} (${money(detail.invoice.amount_remaining, detail.invoice.currency)})? Collection stops for good: this cannot be undone.`,
    };
  }],
  ["note", () => {
    const text = h("textarea", { name: "text", rows: "2", required: true, maxlength: "4000" });
    return { label: "Add a note", controls: [field("Note", text)], body: () => ({ text: text.value }) };
  }],
];

export function invoice(root: HTMLElement, invoiceId: string): void {
  const body = h("div");
  root.append(body);
  const render = () => load(body, "the invoice", () => api.invoice(invoiceId), (detail) => view(detail, render));
  void render();
}

function view(detail: api.InvoiceDetail, rerender: () => Promise<void>): Node[] {
  const i = detail.invoice;
  const facts: [string, Node | string][] = [
    ["Customer", h("a", { href: `#/customers/${encodeURIComponent(i.customer_id)}` }, detail.customer_name ?? i.customer_id)],
    ["Remaining", `${money(i.amount_remaining, i.currency)} of ${money(i.amount_due, i.currency)}`],
    ["Issued", day(i.issued_at)], ["Due", day(i.due_at)], ["Days past due", String(i.days_past_due)],
    ["State", i.status === i.state ? i.state : `${i.state} (${i.status})`], ["Stage", words(i.stage)], ["Aging", i.aging ?? "—"],
    ["Next action", dateTime(i.next_action_at)],
    ["Hold", i.hold ? `${words(i.hold.kind)} since ${dateTime(i.hold.since)}${i.hold.until ? ` until ${dateTime(i.hold.until)}` : ""} by ${i.hold.actor}${i.hold.reason ? `: ${i.hold.reason}` : ""}` : "none"],
    ["Policy", i.policy_id ? `${i.policy_id} v${i.policy_version}${i.segment ? `, ${i.segment}` : ""}` : "—"],
  ];
  return [
    h("h1", { tabindex: "-1" }, `Invoice ${i.number}`),
    h("dl", { class: "facts-list" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("section", { "aria-labelledby": "actions-h" }, h("h2", { id: "actions-h" }, "Actions"),
      i.state === "open" ? h("div", { class: "actions" }, ACTIONS.map(([name, build]) => actionForm(i.invoice_id, name, build(detail), rerender)))
                         : h("p", {}, "The invoice is closed: no action applies.")),
    h("section", { "aria-labelledby": "planned-h" }, h("h2", { id: "planned-h" }, "Planned steps"),
      detail.planned.length ? table("Steps still planned", ["When", "Step", "Stage", "Channel"],
        detail.planned.map((p) => [dateTime(p.at), p.step_id, words(p.stage), words(p.channel)])) : h("p", {}, "No step is planned.")),
    h("section", { "aria-labelledby": "timeline-h" }, h("h2", { id: "timeline-h" }, "Timeline"),
      table("Every entry of the invoice's contact log, oldest first", ["#", "When", "What", "By", "Step", "To / subject", "Delivery", "Open", "Details"],
        detail.timeline.map((e) => [
          e.seq, dateTime(e.at), h("span", { class: "kind", "data-kind": e.kind }, words(e.kind)), e.actor,
          [e.step_id, e.channel ? `(${words(e.channel)})` : ""].filter(Boolean).join(" "),
          [e.recipient, e.subject].filter(Boolean).join(" — "),
          e.delivery ? h("span", { class: `delivery ${e.delivery}` }, e.delivery) : "",
          artefactLinks(e.artefacts),
          detailsView(e.details, i.currency),
        ]), [0])),
  ];
}

function actionForm(invoiceId: string, name: api.ActionName, action: ReturnType<Build>, rerender: () => Promise<void>): HTMLElement {
  const result = h("div", { class: "result", "aria-live": "polite" });
  const form = h("form", { "data-action": name }, action.controls,
    h("button", { type: "submit", class: name === "write_off" ? "danger" : null }, action.label), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (action.confirm && !(await confirmDialog(action.confirm(), action.label))) return;
    const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
    button.disabled = true;
    result.replaceChildren(h("span", { class: "loading" }, "Working…"));
    try {
      const answer = await api.act(invoiceId, name, action.body());
      announce(answer.status === 202 ? `${action.label}: in progress` : `${action.label}: done`);
      await rerender();
    } catch (error) {
      result.replaceChildren(refusal(error));
      button.disabled = false;
    }
  });
  return h("details", { class: "action", "data-action": name }, h("summary", {}, action.label), form);
}

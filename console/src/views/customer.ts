// A customer: its contacts, language, time zone, segment, policy, insolvency, invoices and messages; the finance
// team's settings are editable through PATCH /customers/{id}. Fields the API adds later are listed as they come.
import * as api from "../api";
import { announce, confirmDialog, field, h, load, refusal, table } from "../dom";
import { dateTime, day, money, words } from "../format";

const EDITABLE: [keyof api.Customer, string, string][] = [
  ["email", "Billing email", "email"], ["escalation_email", "Escalation email", "email"], ["phone", "Phone", "tel"],
  ["language", "Language (e.g. en, fr-CA)", "text"], ["timezone", "Time zone (e.g. Europe/Paris)", "text"],
  ["segment", "Segment", "text"], ["policy_id", "Policy (empty: the default)", "text"], ["account_owner", "Account owner", "text"],
];
const SHOWN = new Set(["customer_id", "provider", "name", "address", "finance_settings", "undeliverable", "open_invoices", "open_balance",
                       ...EDITABLE.map(([k]) => k as string)]);

export function customer(root: HTMLElement, customerId: string): void {
  const body = h("div");
  root.append(body);
  const render = () => load(body, "the customer", () => api.customer(customerId), (c) => view(c, render));
  void render();
}

function view(c: api.Customer, rerender: () => Promise<void>): Node[] {
  const invoices = h("div");
  const messages = h("div");
  void load(invoices, "its invoices", async () => [
    ...(await api.listInvoices({ customer_id: c.customer_id, state: "open" })),
    ...(await api.listInvoices({ customer_id: c.customer_id, state: "closed" }, 200)),
  ], (list) => {
    void load(messages, "its messages", () => Promise.all(list.slice(0, 25).map((i) => api.invoice(i.invoice_id))), (details) => {
      const sent = details.flatMap((d) => d.timeline.filter((e) => e.channel === "email" || e.channel === "letter" || e.kind === "email" || e.kind === "letter")
        .map((e) => ({ number: d.invoice.number, invoiceId: d.invoice.invoice_id, e }))).sort((a, b) => b.e.at.localeCompare(a.e.at));
      return sent.length ? table("Emails and letters sent, newest first", ["When", "Invoice", "Step", "Subject", "Delivery", "Open"],
        sent.map(({ number, invoiceId, e }) => [dateTime(e.at), h("a", { href: `#/invoices/${encodeURIComponent(invoiceId)}` }, number),
          e.step_id ?? "", e.subject ?? "", e.delivery ?? "",
          e.artefacts.map((a) => a.download_url ? h("a", { href: a.download_url, target: "_blank", rel: "noopener noreferrer" }, `open ${words(a.kind)}`) : "")]))
        : h("p", {}, "No email or letter yet.");
    });
    return list.length ? table("Invoices", ["Number", "State", "Remaining", "Due", "Stage", "Hold"], list.map((i) => [
      h("a", { href: `#/invoices/${encodeURIComponent(i.invoice_id)}` }, i.number), i.state, money(i.amount_remaining, i.currency),
      day(i.due_at), words(i.stage), i.hold ? words(i.hold.kind) : ""]), [2]) : h("p", {}, "No invoice.");
  });
  const extra = Object.entries(c).filter(([k]) => !SHOWN.has(k));
  const address = Object.values(c.address ?? {}).filter(Boolean).join(", ");
  return [
    h("h1", { tabindex: "-1" }, c.name || c.customer_id),
    h("dl", { class: "facts-list" },
      [["Id", `${c.customer_id} (${c.provider})`], ["Address", address || "—"],
       ["Open balance", Object.entries(c.open_balance).map(([cur, amount]) => money(amount, cur)).join(", ") || "nothing open"],
       ["Open invoices", String(c.open_invoices)],
       ["Undeliverable addresses", c.undeliverable.join(", ") || "none"],
       ["Set by the finance team", Object.keys(c.finance_settings ?? {}).map(words).join(", ") || "nothing (the billing platform's values)"],
       ...extra.map(([k, v]): [string, string] => [words(k), typeof v === "object" ? JSON.stringify(v) : String(v)]),
      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    editForm(c, rerender),
    insolvencyForm(c, rerender),
    h("section", { "aria-labelledby": "c-inv" }, h("h2", { id: "c-inv" }, "Invoices"), invoices),
    h("section", { "aria-labelledby": "c-msg" }, h("h2", { id: "c-msg" }, "Messages"), messages),
  ];
}

function editForm(c: api.Customer, rerender: () => Promise<void>): HTMLElement {
  const inputs = EDITABLE.map(([key, label, type]) => {
    const input = h("input", { name: String(key), type, value: (c[key] as string | null) ?? "" });
    return { key: String(key), input, label, before: (c[key] as string | null) ?? "" };
  });
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "grid" }, inputs.map((i) => field(i.label, i.input)), h("button", { type: "submit" }, "Save changes"), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes: Record<string, string | null> = {};
    for (const i of inputs) if (i.input.value.trim() !== i.before) changes[i.key] = i.input.value.trim() || null;
    if (!Object.keys(changes).length) {
      result.replaceChildren(h("p", {}, "Nothing changed."));
      return;
    }
    try {
      await api.updateCustomer(c.customer_id, changes);
      announce("Customer saved");
      await rerender();
    } catch (error) {
      result.replaceChildren(refusal(error));
    }
  });
  return h("section", { "aria-labelledby": "c-edit" }, h("h2", { id: "c-edit" }, "Contacts and settings"),
    h("p", { class: "muted" }, "What you set here wins over the billing platform's value; empty a field to go back to it."), form);
}

function insolvencyForm(c: api.Customer, rerender: () => Promise<void>): HTMLElement {
  const notice = h("textarea", { name: "notice", rows: "2", required: true, maxlength: "1000" });
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", {}, field("Insolvency notice (court, case number, administrator)", notice),
    h("button", { type: "submit", class: "danger" }, "Record insolvency"), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!(await confirmDialog(`Record ${c.name}'s insolvency? Every open invoice is held and collection stops; this cannot be undone here.`, "Record insolvency"))) return;
    try {
      const done = await api.insolvency(c.customer_id, notice.value);
      announce(`Insolvency recorded: ${done.invoices_held.length} invoices held`);
      await rerender();
    } catch (error) {
      result.replaceChildren(refusal(error));
    }
  });
  return h("section", { "aria-labelledby": "c-ins" }, h("h2", { id: "c-ins" }, "Insolvency"), form);
}

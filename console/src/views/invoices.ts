// Invoices: the API's filters (stage, aging, customer, currency, next action), a search by number, a sort.
import * as api from "../api";
import { field, h, load, select, table } from "../dom";
import { dateTime, day, money, words } from "../format";

export const STAGES = ["courtesy_reminder", "due_notice", "overdue_reminder", "formal_notice", "final_notice", "referral"];
export const BUCKETS = ["current", "1-30", "31-60", "61-90", "90+"];
const SORTS: Record<string, [string, (a: api.InvoiceSummary, b: api.InvoiceSummary) => number]> = {
  due: ["Due date (oldest first)", (a, b) => a.due_at.localeCompare(b.due_at)],
  overdue: ["Days past due (most first)", (a, b) => b.days_past_due - a.days_past_due],
  amount: ["Amount remaining (largest first)", (a, b) => b.amount_remaining - a.amount_remaining || a.currency.localeCompare(b.currency)],
  next: ["Next action (soonest first)", (a, b) => (a.next_action_at ?? "~").localeCompare(b.next_action_at ?? "~")],
  number: ["Number", (a, b) => a.number.localeCompare(b.number, undefined, { numeric: true })],
};

export function invoices(root: HTMLElement, query: URLSearchParams): void {
  const state = select("state", [["open", "Open"], ["closed", "Closed"]], query.get("state") ?? "open");
  const stage = select("stage", [["", "Any stage"], ...STAGES.map((s): [string, string] => [s, words(s)])], query.get("stage") ?? "");
  const aging = select("aging", [["", "Any age"], ...BUCKETS.map((b): [string, string] => [b, b === "current" ? "not yet due" : `${b} days`])], query.get("aging") ?? "");
  const customer = h("input", { name: "customer_id", type: "text", value: query.get("customer_id") ?? "", autocomplete: "off" });
  const currency = h("input", { name: "currency", type: "text", value: query.get("currency") ?? "", maxlength: "3", pattern: "[A-Za-z]{3}", size: "4" });
  const nextBefore = h("input", { name: "next_action_before", type: "date", value: query.get("next_action_before") ?? "" });
  const search = h("input", { name: "q", type: "search", value: query.get("q") ?? "" });
  const sort = select("sort", Object.entries(SORTS).map(([k, [label]]): [string, string] => [k, label]), query.get("sort") ?? "due");
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter invoices" },
    field("State", state), field("Stage", stage), field("Aging", aging), field("Customer id", customer),
    field("Currency", currency), field("Next action before", nextBefore), field("Number contains", search), field("Sort by", sort),
    h("button", { type: "submit" }, "Show"));
  const results = h("div");
  root.append(h("h1", { tabindex: "-1" }, "Invoices"), form, results);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const control of [state, stage, aging, customer, currency, nextBefore, search, sort]) if (control.value) next.set(control.name, control.value.trim());
    location.hash = `#/invoices?${next}`;
  });
  const filter: api.InvoiceFilter = {
    state: state.value, stage: stage.value, aging: aging.value, customer_id: customer.value.trim(),
    currency: currency.value.trim().toUpperCase(), next_action_before: nextBefore.value ? `${nextBefore.value}T00:00:00Z` : "",
  };
  void load(results, "invoices", () => api.listInvoices(filter), (all) => {
    const needle = search.value.trim().toLowerCase();
    const shown = all.filter((i) => !needle || i.number.toLowerCase().includes(needle)).sort(SORTS[sort.value]?.[1] ?? SORTS.due[1]);
    if (!shown.length) return h("p", {}, "No invoice matches.");
    return table(`${shown.length} invoice${shown.length === 1 ? "" : "s"}`,
      ["Number", "Customer", "Remaining", "Due", "Days late", "Aging", "Stage", "Next action", "Hold"],
      shown.map((i) => [
        h("a", { href: `#/invoices/${encodeURIComponent(i.invoice_id)}` }, i.number),
        h("a", { href: `#/customers/${encodeURIComponent(i.customer_id)}` }, i.customer_id),
        money(i.amount_remaining, i.currency), day(i.due_at), i.days_past_due, i.aging ?? "—", words(i.stage),
        dateTime(i.next_action_at), i.hold ? words(i.hold.kind) : "",
      ]), [2, 4]);
  });
}

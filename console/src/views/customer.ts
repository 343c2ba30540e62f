// A customer: its contacts, language, time zone, segment, policy, insolvency, invoices and messages; the finance
// team's settings are editable through PATCH /customers/{id}. Fields the API adds later are listed as they come.
import * as api from "../api";
import { announce, artefactLinks, confirmDialog, field, h, load, opener, refusal, table } from "../dom";
import { dateTime, day, major, money, number, words } from "../format";

const EDITABLE: [keyof api.Customer, string, string][] = [
  ["email", "Billing email", "email"], ["escalation_email", "Escalation email", "email"], ["phone", "Phone", "tel"],
  ["language", "Language (e.g. en, fr-CA)", "text"], ["timezone", "Time zone (e.g. Europe/Paris)", "text"],
  ["segment", "Segment", "text"], ["policy_id", "Policy (empty: the default)", "text"], ["account_owner", "Account owner", "text"],
];
const SHOWN = new Set(["customer_id", "provider", "name", "address", "finance_settings", "undeliverable", "open_invoices", "open_balance",
                       "payment_behaviour", "risk_band", "risk_band_reason", "credit_limits", ...EDITABLE.map(([k]) => k as string)]);
const percent = (value: string | null) => (value === null ? "—" : `${number(Number(value))} %`);
const days = (value: string | null) => (value === null ? "—" : `${number(Number(value))} days`);

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
          artefactLinks(e.artefacts)]))
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
       ["Risk band", `${c.risk_band ? words(c.risk_band) : "none"} (${c.risk_band_reason})`],
       ...extra.map(([k, v]): [string, string] => [words(k), typeof v === "object" ? JSON.stringify(v) : String(v)]),
      ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    h("div", { class: "side" }, paymentHistory(c.payment_behaviour), creditLimits(c)),
    editForm(c, rerender),
    documentsAndLinks(c),
    insolvencyForm(c, rerender),
    h("section", { "aria-labelledby": "c-inv" }, h("h2", { id: "c-inv" }, "Invoices"), invoices),
    h("section", { "aria-labelledby": "c-msg" }, h("h2", { id: "c-msg" }, "Messages"), messages),
  ];
}

function paymentHistory(b: api.PaymentBehaviour): HTMLElement {
  const rows: [string, string][] = [
    ["Invoices paid", String(b.invoices_paid)],
    ["Paid late", `${b.paid_late} (${percent(b.share_paid_late_percent)})`],
    ["Days beyond terms, on average", days(b.average_days_beyond_terms)],
    [`Days beyond terms, last ${b.recent_invoices} paid`, days(b.recent_days_beyond_terms)],
    ["Disputed before paying", `${b.disputed} (${percent(b.disputed_share_percent)})`],
    ["Promises broken", String(b.broken_promises)], ["Payment plans broken", String(b.broken_payment_plans)],
    ["Trend", words(b.trend)],
  ];
  return h("section", { "aria-labelledby": "c-pay" }, h("h2", { id: "c-pay" }, "How it pays"),
    table("Over its paid invoices", ["Figure", "Value"], rows, [1]));
}

function creditLimits(c: api.Customer): HTMLElement {
  const limits = Object.entries(c.credit_limits ?? {});
  return h("section", { "aria-labelledby": "c-limit" }, h("h2", { id: "c-limit" }, "Credit limits"),
    limits.length ? table("Per currency (never summed)", ["Currency", "Limit", "Open balance", "Over", "Set by"],
      limits.map(([cur, l]) => [cur, money(l.limit, cur), money(l.exposure, cur),
        l.over_limit ? h("strong", { class: "warn" }, "over the limit") : "no",
        l.source === "customer" ? "the finance team" : `the policy (${c.risk_band ? words(c.risk_band) : "band"})`]), [1, 2])
      : h("p", {}, "No credit limit: the policy sets none for this customer's band and the finance team set none."));
}

/** The customer's own credit limits (finance_settings.credit_limits, minor units), one field per currency in play. */
function creditLimitInputs(c: api.Customer) {
  const own = ((c.finance_settings ?? {}).credit_limits ?? {}) as Record<string, number>;
  const currencies = [...new Set([...Object.keys(c.credit_limits ?? {}), ...Object.keys(c.open_balance ?? {}), ...Object.keys(own)])].sort();
  const inputs = currencies.map((cur) => {
    const input = h("input", { name: `credit_limit_${cur}`, type: "number", min: "0", step: "any", inputmode: "decimal",
                               value: cur in own ? String(major(own[cur], cur)) : "" });
    return { cur, input };
  });
  const changes = (): Record<string, number> | null | undefined => {
    const next: Record<string, number> = {};
    for (const { cur, input } of inputs) if (input.value.trim()) next[cur] = Math.round(Number(input.value) / major(1, cur));
    const same = JSON.stringify(Object.entries(next).sort()) === JSON.stringify(Object.entries(own).sort());
    return same ? undefined : Object.keys(next).length ? next : null;
  };
  const fields = inputs.map(({ cur, input }) => field(`Own credit limit in ${cur}`, input, "empty: the policy's limit for the band"));
  return { fields, changes };
}

/** The IANA time zones the browser knows, offered as the time zone field's suggestions. */
function timeZones(): string[] {
  const intl = Intl as typeof Intl & { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf ? intl.supportedValuesOf("timeZone") : [];
}

function editForm(c: api.Customer, rerender: () => Promise<void>): HTMLElement {
  const inputs = EDITABLE.map(([key, label, type]) => {
    const input = h("input", { name: String(key), type, value: (c[key] as string | null) ?? "" });
    return { key: String(key), input, label, before: (c[key] as string | null) ?? "" };
  });
  const zones = h("datalist", { id: "time-zones" }, timeZones().map((zone) => h("option", { value: zone })));
  inputs.find((i) => i.key === "timezone")?.input.setAttribute("list", "time-zones");
  const limits = creditLimitInputs(c);
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "grid" }, inputs.map((i) => field(i.label, i.input)), limits.fields,
    h("button", { type: "submit" }, "Save changes"), result, zones);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changes: Record<string, unknown> = {};
    for (const i of inputs) if (i.input.value.trim() !== i.before) changes[i.key] = i.input.value.trim() || null;
    const credit = limits.changes();
    if (credit !== undefined) changes.credit_limits = credit;
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

function documentsAndLinks(c: api.Customer): HTMLElement {
  const statementResult = h("div", { "aria-live": "polite" });
  const statementButton = h("button", { type: "button" }, "Make the statement of account");
  statementButton.addEventListener("click", () => void load(statementResult, "the statement", () => api.statement(c.customer_id), (answer) =>
    answer.statement.download_url
      ? h("p", {}, opener(answer.statement.download_url, `Open the statement of ${day(answer.as_of)} (PDF)`), " — the link works for 15 minutes.")
      : h("p", {}, "The statement is stored but has no link to open.")));
  const reason = h("input", { name: "revoke_reason", type: "text", required: true, maxlength: "500" });
  const revokeResult = h("div", { "aria-live": "polite" });
  const revoke = h("form", {}, field("Why the portal links stop (for the record)", reason),
    h("button", { type: "submit", class: "danger" }, "Revoke every portal link"), revokeResult);
  revoke.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!(await confirmDialog(`Revoke every portal link sent to ${c.name}? Links already sent stop opening for good; the debtor can ask for a new one.`, "Revoke links"))) return;
    try {
      const done = await api.revokePortalLinks(c.customer_id, reason.value);
      announce("Portal links revoked");
      revokeResult.replaceChildren(h("p", { class: "ok" }, `Revoked: links of earlier generations no longer open (now generation ${done.generation}).`));
    } catch (error) {
      revokeResult.replaceChildren(refusal(error));
    }
  });
  return h("section", { "aria-labelledby": "c-docs" }, h("h2", { id: "c-docs" }, "Statement and portal links"),
    h("div", { class: "side" }, h("div", {}, statementButton, statementResult), revoke));
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

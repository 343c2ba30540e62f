// Today: the open tasks for people, grouped as a credit controller works through them; each can be marked done.
import * as api from "../api";
import { announce, detailsView, field, h, load, refusal } from "../dom";
import { dateTime, day, localTimeIn, money, words } from "../format";

const GROUPS: { title: string; id: string; kinds: (kind: string) => boolean }[] = [
  { title: "Calls to make", id: "calls", kinds: (k) => k === "call_debtor" },
  { title: "Letters to post", id: "letters", kinds: (k) => k === "post_letter" },
  { title: "Replies to read", id: "replies", kinds: (k) => k === "read_reply" || k === "unmatched_reply" },
  { title: "Failures to investigate", id: "failures", kinds: (k) => ["investigate_workflow_failure", "confirm_contact_sent", "fix_debtor_email"].includes(k) },
];
const OTHER = { title: "Reviews and data to complete", id: "reviews" };
// Shown in the task's head or its own block, or only for machines (stored objects' keys and hashes).
const NOT_LISTED = new Set(["customer", "customer_id", "balance", "currency", "assignee", "phone", "call_window", "reference",
                            "from", "subject", "excerpt", "postal_address", "message", "letter", "sha256", "attachments", "task_id"]);
const UNMATCHED = "-unmatched"; // the inbound function's invoice id for a reply it could not match (usecases/inbound.py)

export function today(root: HTMLElement): void {
  const body = h("div");
  root.append(h("h1", { tabindex: "-1" }, "Today"), body);
  void load(body, "the work queue", api.tasks, (tasks) => {
    if (!tasks.length) return h("p", {}, "Nothing to do: no task is open.");
    const sorted = [...tasks].sort((a, b) => a.due_at.localeCompare(b.due_at));
    const sections = GROUPS.map((g) => ({ ...g, tasks: sorted.filter((t) => g.kinds(t.kind)) }));
    const other = sorted.filter((t) => !GROUPS.some((g) => g.kinds(t.kind)));
    sections.push({ ...OTHER, kinds: () => true, tasks: other });
    return [
      h("p", {}, `${tasks.length} open task${tasks.length === 1 ? "" : "s"}.`),
      ...sections.map((s) => h("section", { "aria-labelledby": `q-${s.id}`, class: "queue", "data-group": s.id },
        h("h2", { id: `q-${s.id}` }, `${s.title} (${s.tasks.length})`),
        s.tasks.length ? h("ul", { class: "tasks" }, s.tasks.map(taskItem)) : h("p", { class: "muted" }, "None."))),
    ];
  });
}

function taskItem(task: api.Task): HTMLElement {
  const d = task.details ?? {};
  const window = d.call_window as { timezone?: string; date?: string; local_start?: string; local_end?: string } | undefined;
  const facts: (HTMLElement | null)[] = [
    d.customer ? h("span", {}, String(d.customer)) : null,
    typeof d.balance === "number" && d.currency ? h("span", {}, money(d.balance, String(d.currency))) : null,
    d.assignee ? h("span", {}, `for ${d.assignee}`) : null,
  ];
  const call = task.kind === "call_debtor" ? h("div", { class: "call" },
    d.phone ? h("a", { href: `tel:${String(d.phone).replace(/[^+\d]/g, "")}`, class: "phone" }, String(d.phone))
            : h("span", { class: "warn" }, "No phone number: add one on the customer's page"),
    window?.timezone ? h("span", { class: "localtime" }, `Their time now: ${localTimeIn(window.timezone)} (${window.timezone})`) : null,
    window?.date ? h("span", {}, `Call on ${day(window.date)}, ${window.local_start}–${window.local_end} their time`) : null) : null;
  const reply = task.kind === "read_reply" || task.kind === "unmatched_reply" ? h("div", { class: "reply" },
    h("div", {}, h("strong", {}, "From "), String(d.from ?? "an unknown sender"), d.subject ? ` — ${d.subject}` : ""),
    d.excerpt ? h("blockquote", {}, String(d.excerpt)) : null) : null;
  const post = Array.isArray(d.postal_address) ? h("div", {}, h("strong", {}, "Post to: "), d.postal_address.join(", ")) : null;
  const rest = Object.fromEntries(Object.entries(d).filter(([k]) => !NOT_LISTED.has(k)));
  const note = h("textarea", { name: "note", rows: "2", maxlength: "2000" });
  const result = h("div");
  const form = h("form", { class: "done" }, field("Note (what was done)", note),
    h("button", { type: "submit" }, "Mark done"), result);
  const item = h("li", { class: "task", "data-kind": task.kind, "data-task-id": task.task_id },
    h("div", { class: "task-info" },
      h("div", { class: "task-head" },
        h("strong", {}, words(task.kind)), " · ",
        task.invoice_id === UNMATCHED ? "no invoice matched"
          : h("a", { href: `#/invoices/${encodeURIComponent(task.invoice_id)}` }, String(d.reference ?? task.invoice_id)),
        h("span", { class: "muted" }, ` due ${dateTime(task.due_at)}`)),
      h("div", { class: "facts" }, facts), call, reply, post,
      Object.keys(rest).length ? h("div", { class: "muted" }, detailsView(rest, String(d.currency ?? ""))) : null), form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button")!;
    button.disabled = true;
    try {
      await api.completeTask(task.task_id, note.value);
      item.replaceChildren(h("p", { class: "ok" }, `Done: ${words(task.kind)} for ${d.reference ?? task.invoice_id}.`));
      announce("Task marked done");
    } catch (error) {
      result.replaceChildren(refusal(error));
      button.disabled = false;
    }
  });
  return item;
}

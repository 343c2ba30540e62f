// Today: the open tasks for people, grouped as a credit controller works through them; each can be marked done.
import * as api from "../api";
import { announce, field, h, load, refusal } from "../dom";
import { dateTime, day, localTimeIn, money, words } from "../format";

const GROUPS: { title: string; id: string; kinds: (kind: string) => boolean }[] = [
  { title: "Calls to make", id: "calls", kinds: (k) => k === "call_debtor" },
  { title: "Letters to post", id: "letters", kinds: (k) => k === "post_letter" },
  { title: "Replies to read", id: "replies", kinds: (k) => k === "read_reply" },
  { title: "Failures to investigate", id: "failures", kinds: (k) => k === "investigate_workflow_failure" || k === "confirm_contact_sent" },
];
const OTHER = { title: "Reviews and data to complete", id: "reviews" };

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
  const note = h("textarea", { name: "note", rows: "2", maxlength: "2000" });
  const result = h("div");
  const form = h("form", { class: "done" }, field("Note (what was done)", note),
    h("button", { type: "submit" }, "Mark done"), result);
  const item = h("li", { class: "task", "data-kind": task.kind, "data-task-id": task.task_id },
    h("div", { class: "task-info" },
      h("div", { class: "task-head" },
        h("strong", {}, words(task.kind)), " · ",
        h("a", { href: `#/invoices/${encodeURIComponent(task.invoice_id)}` }, String(d.reference ?? task.invoice_id)),
        h("span", { class: "muted" }, ` due ${dateTime(task.due_at)}`)),
      h("div", { class: "facts" }, facts), call), form);
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

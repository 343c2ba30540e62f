// Policies: each segment's ladder drawn as a timeline (days from the due date); a draft's dry run against the open
// book, shown as what changes from each invoice's current plan. Publishing asks first: versions never change.
import { parse } from "yaml";
import * as api from "../api";
import { announce, confirmDialog, field, h, load, refusal, select, table } from "../dom";
import { dateTime, words } from "../format";

const STEP_WIDTH = 11; // % of the ladder's width
const LANE_EM = 6.4; // four lines of a step (its offset, two of what it does, its id) and a gap

interface Step { id: string; stage: string; offset_days: number; channel: string }

export function policies(root: HTMLElement, query: URLSearchParams): void {
  const body = h("div");
  root.append(h("h1", { tabindex: "-1" }, "Policies"), body);
  void load(body, "the policies", api.policies, (list) => {
    if (!list.length) return h("p", {}, "No policy is published.");
    const chosen = query.get("policy") ?? list[0].policy_id;
    const picker = select("policy", list.map((p): [string, string] => [p.policy_id, `${p.policy_id} (version ${p.current_version})`]), chosen);
    picker.addEventListener("change", () => { location.hash = `#/policies?policy=${encodeURIComponent(picker.value)}`; });
    const current = h("div");
    void load(current, "the policy", () => api.policy(chosen), policyView);
    return [field("Policy", picker), current];
  });
}

function policyView(p: api.PolicyVersion): Node[] {
  let segments: Record<string, { steps?: Step[] }> = {};
  try {
    segments = (parse(p.source)?.segments ?? {}) as typeof segments;
  } catch {
    segments = {};
  }
  return [
    h("h2", {}, `${p.name} — version ${p.version}${p.current ? " (current)" : ""}`),
    ...Object.entries(segments).map(([segment, s]) => ladder(segment, s.steps ?? [])),
    draftView(p),
  ];
}

function ladder(segment: string, steps: Step[]): HTMLElement {
  const offsets = steps.map((s) => Number(s.offset_days) || 0);
  const low = Math.min(0, ...offsets);
  const high = Math.max(1, ...offsets);
  const lanes: number[] = []; // each lane's right edge (% of the width): a step goes in the first lane it fits
  const line = h("ol", { class: "ladder", "aria-label": `Segment ${segment}: steps by days from the due date` },
    steps.map((s) => {
      const item = h("li", { class: `step ${s.channel}` },
        h("span", { class: "offset" }, s.offset_days === 0 ? "due" : `${s.offset_days > 0 ? "+" : ""}${s.offset_days} d`),
        h("span", { class: "what" }, `${words(s.stage)} · ${words(s.channel)}`), h("span", { class: "id" }, s.id));
      const left = ((Number(s.offset_days) - low) / (high - low)) * (100 - STEP_WIDTH);
      let lane = lanes.findIndex((right) => right <= left);
      if (lane < 0) lane = lanes.push(0) - 1;
      lanes[lane] = left + STEP_WIDTH + 0.5;
      item.style.left = `${left}%`; // CSSOM, not a style attribute: the CSP allows it
      item.style.width = `${STEP_WIDTH}%`;
      item.style.top = `${lane * LANE_EM}em`;
      return item;
    }));
  line.style.height = `${lanes.length * LANE_EM + 0.4}em`;
  return h("section", { class: "segment", "aria-labelledby": `seg-${segment}` }, h("h3", { id: `seg-${segment}` }, `Segment ${segment}`), line);
}

function draftView(p: api.PolicyVersion): HTMLElement {
  const source = h("textarea", { name: "source", rows: "14", spellcheck: "false", class: "code" });
  source.value = p.source;
  const result = h("div", { class: "dry-run", "aria-live": "polite" });
  const run = h("button", { type: "submit" }, "Dry run against the open book");
  const publish = h("button", { type: "button", class: "danger" }, "Publish as a new version");
  const form = h("form", {}, field("Draft (YAML)", source, "Edit the policy, then try it: nothing is sent."), h("div", { class: "buttons" }, run, publish), result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const running = (seconds: number) => {
      const shown = result.querySelector(".loading");
      if (seconds % 5) return; // a live region: every five seconds is enough to hear
      if (shown) shown.textContent = `Running the dry run over the open book: ${seconds} s so far (a large book takes minutes)…`;
    };
    void load(result, "the dry run", () => api.dryRun(p.policy_id, source.value, running), differences);
  });
  publish.addEventListener("click", async () => {
    if (!(await confirmDialog(`Publish this draft as version ${p.version + 1} of ${p.policy_id}? Published versions never change.`, "Publish"))) return;
    try {
      const published = await api.publishPolicy(p.policy_id, source.value);
      announce(`Published version ${published.version}`);
      result.replaceChildren(h("p", { class: "ok" }, `Published version ${published.version}: invoices that start from now use it.`));
    } catch (error) {
      result.replaceChildren(refusal(error));
    }
  });
  return h("section", { "aria-labelledby": "draft-h" }, h("h2", { id: "draft-h" }, "Try a draft"), form);
}

function differences(result: api.DryRunResult): Node[] {
  const changes = result.invoices.flatMap((i) => i.changes.map((c) => ({ invoice: i.invoice_id, ...c })));
  return [
    h("p", { class: "summary" }, `${result.invoices_simulated} open invoices simulated; ${changes.length} change${changes.length === 1 ? "" : "s"} from their current plans; `
      + `${result.left_out.length} left out (on hold or insolvent).`),
    changes.length ? table("What the draft changes", ["Invoice", "Change", "Step", "Stage", "Current plan", "Draft"],
      changes.map((c) => [h("a", { href: `#/invoices/${encodeURIComponent(c.invoice)}` }, c.invoice),
        h("span", { class: `change ${c.change}` }, c.change), c.step_id, words(c.stage), dateTime(c.was_at), dateTime(c.at)]))
      : h("p", {}, "The draft plans the same contacts as the current version."),
    table("Contacts the draft would make, per stage", ["Stage", "Contacts"], Object.entries(result.contacts_by_stage).map(([s, n]) => [words(s), n]), [1]),
  ];
}

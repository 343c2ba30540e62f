// Reports: aging by bucket and currency; DSO, CEI and days to collect month by month; outcomes per stage. Each
// chart has its numbers in a table beside it. "Now" is the API's own (the aging report's as_of).
import * as api from "../api";
import { chart } from "../charts";
import { h, load, table } from "../dom";
import { major, money, number, words } from "../format";
import { BUCKETS } from "./invoices";

const MONTHS = 6;

export function reports(root: HTMLElement): void {
  const agingBox = h("div", { class: "report" });
  const collectionsBox = h("div", { class: "report" });
  const stagesBox = h("div", { class: "report" });
  root.append(h("h1", { tabindex: "-1" }, "Reports"),
    h("section", { "aria-labelledby": "r-aging" }, h("h2", { id: "r-aging" }, "Aging by bucket and currency"), agingBox),
    h("section", { "aria-labelledby": "r-coll" }, h("h2", { id: "r-coll" }, `DSO, CEI and days to collect, last ${MONTHS} months`), collectionsBox),
    h("section", { "aria-labelledby": "r-stage" }, h("h2", { id: "r-stage" }, `Outcomes per stage, last ${MONTHS} months`), stagesBox));
  void load(agingBox, "the aging report", api.aging, (report) => {
    const asOf = report.as_of.slice(0, 10);
    const months = monthsUpTo(asOf);
    void load(collectionsBox, "the collection figures", () => Promise.all(months.map(([from, to]) => api.collections(from, to))), collectionsView);
    void load(stagesBox, "the stage outcomes", () => api.stages(months[0][0], months[months.length - 1][1]), stagesView);
    return agingView(report);
  });
}

/** [first day, day after the last] of each of the MONTHS months up to the one holding `asOf` (that one ends the day after asOf). */
function monthsUpTo(asOf: string): [string, string][] {
  const [year, month] = asOf.split("-").map(Number);
  const periods: [string, string][] = [];
  for (let back = MONTHS - 1; back >= 0; back--) {
    const start = new Date(Date.UTC(year, month - 1 - back, 1));
    const end = back === 0 ? new Date(Date.parse(`${asOf}T00:00:00Z`) + 86_400_000) : new Date(Date.UTC(year, month - back, 1));
    periods.push([start.toISOString().slice(0, 10), end.toISOString().slice(0, 10)]);
  }
  return periods;
}

function agingView(report: api.AgingReport): Node[] {
  const currencies = Object.keys(report.currencies).sort();
  if (!currencies.length) return [h("p", {}, "Nothing is receivable.")];
  const cell = (cur: string, bucket: string) => report.currencies[cur]?.[bucket] ?? { count: 0, amount: 0 };
  const series = currencies.map((cur) => ({ label: cur, data: BUCKETS.map((b) => major(cell(cur, b).amount, cur)) }));
  const rows = currencies.flatMap((cur) => [
    ...BUCKETS.map((b) => [cur, b, cell(cur, b).count, money(cell(cur, b).amount, cur)]),
    [h("strong", {}, cur), h("strong", {}, "total"), BUCKETS.reduce((n, b) => n + cell(cur, b).count, 0),
     h("strong", { "data-total": cur }, money(BUCKETS.reduce((n, b) => n + cell(cur, b).amount, 0), cur))],
  ]);
  return [h("div", { class: "side" },
    chart("Receivables by aging bucket, one bar per currency", "bar", BUCKETS, series, "amount (currency units)"),
    table(`Receivables on ${report.as_of.slice(0, 10)} (currencies never summed)`, ["Currency", "Bucket", "Invoices", "Amount"], rows, [2, 3]))];
}

function collectionsView(periods: api.CollectionReport[]): Node[] {
  const labels = periods.map((p) => p.start.slice(0, 7));
  const currencies = [...new Set(periods.flatMap((p) => p.currencies.map((c) => c.currency)))].sort();
  if (!currencies.length) return [h("p", {}, "No receivables in the period.")];
  const figure = (p: api.CollectionReport, cur: string) => p.currencies.find((c) => c.currency === cur);
  const series = currencies.flatMap((cur) => [
    { label: `${cur} DSO (days)`, data: periods.map((p) => figure(p, cur)?.dso_days ?? null) },
    { label: `${cur} CEI (%)`, data: periods.map((p) => figure(p, cur)?.cei_percent ?? null) },
    { label: `${cur} days to collect`, data: periods.map((p) => figure(p, cur)?.average_days_to_collect ?? null) },
  ]);
  const rows = periods.flatMap((p) => p.currencies.map((c) => [p.start.slice(0, 7), c.currency, number(c.dso_days), number(c.cei_percent),
    number(c.average_days_to_collect), c.collected_count, money(c.ending_receivables, c.currency)]));
  return [h("div", { class: "side" }, chart("DSO, CEI and average days to collect per month", "line", labels, series, "days or percent"),
    table("Per month and currency", ["Month", "Currency", "DSO (days)", "CEI (%)", "Days to collect", "Collected", "Receivables at end"], rows, [2, 3, 4, 5, 6]))];
}

function stagesView(report: api.StageReport): Node[] {
  const names = Object.keys(report.stages);
  if (!names.length) return [h("p", {}, "No step was done in the period.")];
  const value = (stage: string, key: string) => Number(report.stages[stage]?.[key] ?? 0);
  const series = [{ label: "steps done", data: names.map((s) => value(s, "steps_done")) },
                  { label: "invoices recovered", data: names.map((s) => value(s, "recovered_count")) }];
  const recovered = (stage: string) => Object.entries((report.stages[stage]?.recovered ?? {}) as Record<string, number>)
    .map(([cur, amount]) => money(amount, cur)).join(", ") || "—";
  return [h("div", { class: "side" }, chart("Steps done and invoices recovered per stage", "bar", names.map(words), series, "count"),
    table(`${report.start.slice(0, 10)} to ${report.end.slice(0, 10)}`, ["Stage", "Steps done", "Recovered", "Sums recovered"],
      names.map((s) => [words(s), value(s, "steps_done"), value(s, "recovered_count"), recovered(s)]), [1, 2, 3]))];
}

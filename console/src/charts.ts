// Chart.js, with only the parts the console draws registered (a smaller bundle). Each chart's canvas is an image
// with a label; its numbers are in the table beside it. `data-totals` on a canvas holds each dataset's sum, as drawn.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from "chart.js";
import { h } from "./dom";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);
Chart.defaults.animation = false;

const COLOURS = ["#1f5fa8", "#b5480c", "#2e7d32", "#6a3d9a", "#8d6e00", "#00695c"];

export interface Series { label: string; data: (number | null)[] }

export function chart(label: string, kind: "bar" | "line", labels: string[], series: Series[], yTitle: string): HTMLElement {
  const canvas = h("canvas", { role: "img", "aria-label": `${label} (chart; the numbers are in the table)` });
  canvas.dataset.totals = JSON.stringify(Object.fromEntries(series.map((s) => [s.label, s.data.reduce<number>((sum, v) => sum + (v ?? 0), 0)])));
  const box = h("div", { class: "chart" }, canvas);
  new Chart(canvas, {
    type: kind,
    data: { labels, datasets: series.map((s, i) => ({ label: s.label, data: s.data, backgroundColor: COLOURS[i % COLOURS.length],
                                                        borderColor: COLOURS[i % COLOURS.length], spanGaps: true })) },
    options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, title: { display: true, text: yTitle } } } },
  });
  return box;
}

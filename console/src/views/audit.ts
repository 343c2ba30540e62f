// Audit: a period's export for the auditors. The archive is in the audit bucket (Object Lock), outside the finance
// API; the export is `arrears audit export` (docs/audit.md), run with the auditor's own credentials. This view writes
// the exact commands for the chosen period.
import { field, h } from "../dom";
import { isoDay } from "../format";

export function audit(root: HTMLElement): void {
  const from = h("input", { name: "from", type: "date", value: isoDay(-90), required: true });
  const to = h("input", { name: "to", type: "date", value: isoDay(0), required: true });
  const customer = h("input", { name: "customer", type: "text", placeholder: "cus_…" });
  const commands = h("pre", { class: "code", tabindex: "0", "aria-label": "Commands to export the period" });
  const render = () => {
    const name = `audit-${from.value}-to-${to.value}.zip`;
    commands.textContent = [
      "# with the auditor's credentials (stack output AuditorPolicyArn): read-only on the audit archive",
      "arrears audit verify s3://<AuditBucketName>",
      `arrears audit export --source s3://<AuditBucketName> --from ${from.value} --to ${to.value}${customer.value.trim() ? ` --customer ${customer.value.trim()}` : ""} --out ${name}`,
    ].join("\n");
  };
  for (const input of [from, to, customer]) input.addEventListener("input", render);
  render();
  root.append(h("h1", { tabindex: "-1" }, "Audit"),
    h("p", {}, "Every contact-log entry is archived, hash-chained, to the audit bucket, which the finance API does not serve. "
      + "Export a period for the auditors with the arrears command line: a zip with every entry, letter and email of the period and a README explaining how to check it."),
    h("form", { class: "grid", "aria-label": "Period to export" }, field("From", from), field("To", to), field("Only this customer (optional)", customer)),
    commands);
}

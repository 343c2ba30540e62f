// Every call the console makes to the finance API is in this module (docs/finance-api.md, openapi/finance.json).
// Locally the requests go to the same origin unsigned (arrears serve answers as its local principal); in AWS each
// is SigV4-signed with the signed-in user's temporary credentials (aws4fetch), so the API keeps IAM authorisation
// and every action is logged with the caller's principal.
import { AwsClient } from "aws4fetch";
import type { Credentials } from "./auth";
import type { ConsoleConfig } from "./config";

/** A refusal or failure: `status` is the HTTP status that said so, 0 when none did (no connection, a failed job). */
export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string, public details: unknown[] = []) {
    super(message);
  }
}

let config: ConsoleConfig = { local: true, apiUrl: "", region: "", userPoolId: "", userPoolClientId: "", identityPoolId: "" };
let signer: AwsClient | null = null;

export function useApi(settings: ConsoleConfig, credentials: Credentials | null): void {
  config = settings;
  signer = credentials && !settings.local
    ? new AwsClient({ accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey,
                      sessionToken: credentials.sessionToken, service: "execute-api", region: settings.region,
                      retries: 0 }) // aws4fetch retries 5xx by default: an action must never be sent twice
    : null;
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; location: string | null }> {
  const init: RequestInit = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)["Content-Type"] = "application/json";
  }
  const url = config.apiUrl + path;
  let response: Response;
  try {
    response = signer ? await signer.fetch(url, init) : await fetch(url, init);
  } catch {
    throw new ApiError(0, "network_error", "The finance API could not be reached: check the connection and try again.");
  }
  const text = await response.text();
  let parsed: any = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    if (response.status === 403 && !parsed?.error) {
      throw new ApiError(403, "forbidden", "Your role may not do this (read-only users can look but not act).");
    }
    throw new ApiError(response.status, parsed?.error ?? "http_error",
                       parsed?.message ?? `The finance API answered HTTP ${response.status}.`, parsed?.details ?? []);
  }
  return { status: response.status, body: parsed as T, location: response.headers.get("Location") };
}

const get = async <T>(path: string): Promise<T> => (await request<T>("GET", path)).body;
const post = async <T>(path: string, body: unknown): Promise<T> => (await request<T>("POST", path, body)).body;
const id = encodeURIComponent;

// --- shapes (the subset of openapi/finance.json the console reads; any extra field is shown generically) ------
export interface Hold { kind: string; since: string; until: string | null; reason: string; actor: string; promised_on?: string | null }
export interface InvoiceSummary {
  invoice_id: string; provider: string; number: string; customer_id: string; currency: string;
  amount_due: number; amount_remaining: number; issued_at: string; due_at: string; status: string;
  state: "open" | "closed"; stage: string | null; aging: string | null; days_past_due: number;
  next_action_at: string | null; hold: Hold | null; policy_id: string | null; policy_version: number | null; segment?: string | null;
}
export interface Artefact { kind: string; uri: string; sha256: string; download_url: string | null }
export interface TimelineEntry {
  seq: number; at: string; kind: string; actor: string; channel: string | null; step_id: string | null;
  stage: string | null; recipient: string | null; subject: string | null; delivery: string | null;
  artefacts: Artefact[]; details: Record<string, unknown>;
}
export interface PlannedStep { step_id: string; stage: string; channel: string; at: string }
export interface InvoiceDetail { invoice: InvoiceSummary; customer_name: string | null; timeline: TimelineEntry[]; planned: PlannedStep[] }
export interface ActionResult { invoice_id: string; action: string; outcome: Record<string, unknown> }
export interface PaymentBehaviour {
  invoices_paid: number; paid_late: number; share_paid_late_percent: string | null; average_days_beyond_terms: string | null;
  recent_days_beyond_terms: string | null; recent_invoices: number; disputed: number; disputed_share_percent: string | null;
  broken_promises: number; broken_payment_plans: number; trend: string;
}
export interface CreditLimit { limit: number; exposure: number; over_limit: boolean; source: "customer" | "band" | string }
export interface Customer {
  customer_id: string; provider: string; name: string; email: string; escalation_email: string; language: string;
  timezone: string; segment: string; policy_id: string | null; account_owner: string; phone: string;
  address: Record<string, string>; finance_settings: Record<string, unknown>; undeliverable: string[];
  open_invoices: number; open_balance: Record<string, number>; payment_behaviour: PaymentBehaviour;
  risk_band: string | null; risk_band_reason: string; credit_limits: Record<string, CreditLimit>; [extra: string]: unknown;
}
export interface Task { task_id: string; invoice_id: string; kind: string; due_at: string; details: Record<string, any> }
export interface PolicyVersion { policy_id: string; version: number; name: string; source: string; current: boolean }
export interface DryRunChange { change: "added" | "removed" | "moved"; step_id: string; stage: string | null; at: string | null; was_at: string | null }
export interface DryRunResult {
  policy_id: string; version: number | null; invoices_simulated: number; contacts_by_stage: Record<string, number>;
  invoices: { invoice_id: string; contacts: unknown[]; changes: DryRunChange[] }[];
  left_out: { invoice_id: string; reason: string }[];
}
export interface AgingReport { as_of: string; currencies: Record<string, Record<string, { count: number; amount: number }>> }
export interface CurrencyCollection {
  currency: string; beginning_receivables: number; credit_sales: number; ending_receivables: number;
  ending_current_receivables: number; days: number; dso_days: number | null; cei_percent: number | null;
  collected_count: number; average_days_to_collect: number | null; average_days_late_at_payment: number | null;
}
export interface CollectionReport { start: string; end: string; currencies: CurrencyCollection[] }
export interface StageReport { start: string; end: string; stages: Record<string, Record<string, unknown>> }

// --- invoices ---------------------------------------------------------------------------------------------------
export interface InvoiceFilter { state?: string; stage?: string; customer_id?: string; currency?: string; aging?: string; next_action_before?: string }

/** Every page of GET /invoices for the filter (at most `max` invoices). */
export async function listInvoices(filter: InvoiceFilter, max = 1000): Promise<InvoiceSummary[]> {
  const invoices: InvoiceSummary[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: "200" });
    for (const [key, value] of Object.entries(filter)) if (value) query.set(key, value);
    if (cursor) query.set("cursor", cursor);
    const page: { invoices: InvoiceSummary[]; next_cursor: string | null } = await get(`/invoices?${query}`);
    invoices.push(...page.invoices);
    cursor = page.next_cursor;
  } while (cursor && invoices.length < max);
  return invoices;
}

export const invoice = (invoiceId: string) => get<InvoiceDetail>(`/invoices/${id(invoiceId)}`);

/** The invoice actions, by the name the console shows; each posts to its route with its body. */
export const ACTION_ROUTES = {
  pause: "pause", resume: "resume", dispute: "dispute", resolve: "dispute/resolve", promise: "promise",
  payment_plan: "payment-plan", escalate: "escalate", skip: "skip", write_off: "write-off", note: "notes",
} as const;
export type ActionName = keyof typeof ACTION_ROUTES;

export const act = (invoiceId: string, action: ActionName, body: Record<string, unknown>) =>
  request<ActionResult>("POST", `/invoices/${id(invoiceId)}/${ACTION_ROUTES[action]}`, body);

// --- customers --------------------------------------------------------------------------------------------------
export const customer = (customerId: string) => get<Customer>(`/customers/${id(customerId)}`);
export const updateCustomer = (customerId: string, changes: Record<string, unknown>) =>
  request<Customer>("PATCH", `/customers/${id(customerId)}`, changes).then((r) => r.body);
export const insolvency = (customerId: string, notice: string) =>
  post<{ customer_id: string; invoices_held: string[] }>(`/customers/${id(customerId)}/insolvency`, { notice });
export const statement = (customerId: string) =>
  get<{ as_of: string; statement: Artefact }>(`/customers/${id(customerId)}/statement`);
export const revokePortalLinks = (customerId: string, reason: string) =>
  post<{ customer_id: string; generation: number }>(`/customers/${id(customerId)}/portal-links/revoke`, { reason });

// --- tasks ------------------------------------------------------------------------------------------------------
export const tasks = () => get<{ tasks: Task[] }>("/tasks").then((r) => r.tasks);
export const completeTask = (taskId: string, note: string) => post<Task>(`/tasks/${id(taskId)}/done`, { note });

// --- policies ---------------------------------------------------------------------------------------------------
export const policies = () => get<{ policies: { policy_id: string; current_version: number }[] }>("/policies").then((r) => r.policies);
export const policy = (policyId: string) => get<PolicyVersion>(`/policies/${id(policyId)}`);
export const publishPolicy = (policyId: string, source: string) => post<PolicyVersion>(`/policies/${id(policyId)}/versions`, { source });

const POLL_MS = 1000;
const POLL_LIMIT = 20 * 60; // the dry-run function's 15 minutes, and some: after that the API answers failed/timed_out

export interface DryRunJob {
  job_id: string; status: "running" | "done" | "failed"; policy_id: string; version: number | null;
  started_at: string; actor: string; error: string | null; result_url: string | null;
}

/** A draft's dry run against the open book: the API answers 202 with a job (the dry-run function runs it, up to
 * 15 minutes), polled at GET /dry-runs/{job_id}; once done, its whole result is read from the presigned link
 * (`result_url`, a plain GET: the link carries its own signature). `progress` hears how long it has run. */
export async function dryRun(policyId: string, source: string, progress: (seconds: number) => void = () => {}): Promise<DryRunResult> {
  const started = await request<DryRunJob | DryRunResult>("POST", `/policies/${id(policyId)}/dry-run`, { source });
  if (started.status !== 202) return started.body as DryRunResult; // an API that answers at once
  let job = started.body as DryRunJob;
  for (let polls = 0; job.status === "running"; polls++) {
    if (polls >= POLL_LIMIT) throw new ApiError(0, "dry_run_slow", "The dry run is still running: try again in a few minutes.");
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    progress(polls + 1);
    job = await get<DryRunJob>(`/dry-runs/${id(job.job_id)}`);
  }
  if (job.status === "failed") {
    throw new ApiError(0, job.error ?? "dry_run_failed", job.error === "timed_out"
      ? "The dry run did not finish within the dry-run function's time limit." : "The dry run failed.");
  }
  if (!job.result_url) throw new ApiError(0, "no_result", "The dry run is done but the API gave no link to its result.");
  let response: Response;
  try {
    response = await fetch(job.result_url, { headers: { Accept: "application/json" } });
  } catch {
    throw new ApiError(0, "network_error", "The dry run's result could not be read: check the connection and try again.");
  }
  if (!response.ok) throw new ApiError(response.status, "result_unreadable", `The dry run's result could not be read (HTTP ${response.status}).`);
  return (await response.json()) as DryRunResult;
}

// --- reports ----------------------------------------------------------------------------------------------------
export const aging = () => get<AgingReport>("/reports/aging");
export const collections = (from: string, to: string) =>
  get<CollectionReport>(`/reports/collections?${new URLSearchParams({ from, to })}`);
export const stages = (from: string, to: string) => get<StageReport>(`/reports/stages?${new URLSearchParams({ from, to })}`);

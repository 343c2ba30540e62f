// Money and dates in the user's locale (Intl); amounts arrive in minor units.
const locale = navigator.language || "en-GB";

export function money(minor: number, currency: string): string {
  try {
    const format = new Intl.NumberFormat(locale, { style: "currency", currency });
    const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
    return format.format(minor / 10 ** digits);
  } catch {
    return `${(minor / 100).toFixed(2)} ${currency}`;
  }
}

/** Major units of a minor amount (for charts: their axes are in the currency's units). */
export function major(minor: number, currency: string): number {
  try {
    return minor / 10 ** (new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2);
  } catch {
    return minor / 100;
  }
}

export function dateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return "—";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  try {
    return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", ...(timeZone ? { timeZone } : {}) }).format(moment);
  } catch {
    return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(moment);
  }
}

export function day(iso: string | null | undefined): string {
  if (!iso) return "—";
  const moment = new Date(iso.length === 10 ? `${iso}T12:00:00Z` : iso);
  return Number.isNaN(moment.getTime()) ? String(iso) : new Intl.DateTimeFormat(locale, { dateStyle: "medium" }).format(moment);
}

/** The time it is now in a time zone, with the zone's name (the debtor's local time on a call task). */
export function localTimeIn(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", timeZone, timeZoneName: "short" }).format(new Date());
  } catch {
    return "unknown";
  }
}

export const number = (value: number | null | undefined, digits = 1) =>
  value === null || value === undefined ? "—" : new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value);

export const words = (code: string | null | undefined) => (code ? code.replace(/_/g, " ") : "—");

/** An ISO day (YYYY-MM-DD) `days` from today. */
export function isoDay(days = 0): string {
  const moment = new Date(Date.now() + days * 86_400_000);
  return moment.toISOString().slice(0, 10);
}

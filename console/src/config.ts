// The console's settings: /console/config.json, written by the deploy (docs/console.md) or answered by
// `arrears serve` ({"local": true}: same origin, no sign-in, the local runtime's principal).
export interface ConsoleConfig {
  local: boolean;
  apiUrl: string; // the finance API's base URL, without a trailing slash ("" locally: same origin)
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  identityPoolId: string;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json could not be read (HTTP ${response.status})`);
  const raw = (await response.json()) as Partial<ConsoleConfig>;
  const config: ConsoleConfig = {
    local: raw.local === true,
    apiUrl: String(raw.apiUrl ?? "").replace(/\/+$/, ""),
    region: String(raw.region ?? ""),
    userPoolId: String(raw.userPoolId ?? ""),
    userPoolClientId: String(raw.userPoolClientId ?? ""),
    identityPoolId: String(raw.identityPoolId ?? ""),
  };
  if (!config.local) {
    const missing = (["apiUrl", "region", "userPoolId", "userPoolClientId", "identityPoolId"] as const).filter((k) => !config[k]);
    if (missing.length) throw new Error(`config.json lacks ${missing.join(", ")}`);
  }
  return config;
}

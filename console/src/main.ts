// The console's shell: config, sign-in (AWS only), hash routing, focus on each view's heading.
import { useApi } from "./api";
import { signIn, type Credentials, type SignInStep } from "./auth";
import { loadConfig, type ConsoleConfig } from "./config";
import { field, h, refusal } from "./dom";
import { audit } from "./views/audit";
import { customer } from "./views/customer";
import { invoice } from "./views/invoice";
import { invoices } from "./views/invoices";
import { policies } from "./views/policies";
import { reports } from "./views/reports";
import { today } from "./views/today";
import "./style.css";

const main = document.getElementById("main")!;
const who = document.getElementById("who")!;

function route(): void {
  const [path, search = ""] = (location.hash.replace(/^#/, "") || "/today").split("?");
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  main.replaceChildren();
  const section = parts[0] ?? "today";
  for (const link of document.querySelectorAll<HTMLAnchorElement>("#nav a")) {
    if (link.getAttribute("href") === `#/${section}` || (section === "customers" && link.getAttribute("href") === "#/invoices")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (section === "invoices" && parts[1]) invoice(main, parts[1]);
  else if (section === "invoices") invoices(main, query);
  else if (section === "customers" && parts[1]) customer(main, parts[1]);
  else if (section === "reports") reports(main);
  else if (section === "policies") policies(main, query);
  else if (section === "audit") audit(main);
  else today(main);
  document.title = `${section[0].toUpperCase()}${section.slice(1)} — Arrears console`;
  requestAnimationFrame(() => (main.querySelector("h1") as HTMLElement | null ?? main).focus());
}

function signInForm(config: ConsoleConfig): Promise<Credentials> {
  return new Promise((resolve) => {
    const user = h("input", { name: "username", type: "text", autocomplete: "username", required: true });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
    const result = h("div");
    const fields = h("div", {}, field("User name", user), field("Password", password));
    const form = h("form", { class: "signin" }, fields, h("button", { type: "submit" }, "Sign in"), result);
    main.replaceChildren(h("h1", { tabindex: "-1" }, "Sign in"), form);
    let pending: ((value: string) => Promise<SignInStep>) | null = null;
    let answerInput: HTMLInputElement | null = null;
    const ask = (challenge: "new_password" | "mfa_code") => {
      answerInput = challenge === "new_password"
        ? h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true, minlength: "14" })
        : h("input", { name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6", required: true });
      fields.replaceChildren(challenge === "new_password"
        ? field("New password", answerInput, "Your first password was temporary: choose your own: at least 14 characters, with upper and lower case letters and a digit.")
        : field("Code from your authenticator app", answerInput, "Six digits; a new one every 30 seconds."));
      answerInput.focus();
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button")!;
      button.disabled = true;
      result.replaceChildren(h("p", { class: "loading", role: "status" }, "Signing in…"));
      try {
        const next = pending && answerInput ? await pending(answerInput.value) : await signIn(config, user.value.trim(), password.value);
        result.replaceChildren();
        if ("credentials" in next) return resolve(next.credentials);
        pending = next.answer;
        ask(next.challenge);
      } catch (error) {
        result.replaceChildren(refusal(error));
      } finally {
        button.disabled = false;
      }
    });
    user.focus();
  });
}

async function start(): Promise<void> {
  let config: ConsoleConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    main.replaceChildren(h("h1", {}, "The console cannot start"), refusal(error));
    return;
  }
  if (config.local) {
    useApi(config, null);
    who.textContent = "local runtime";
  } else {
    const credentials = await signInForm(config);
    useApi(config, credentials);
    who.textContent = `signed in as ${credentials.user}`;
    // Sign in again a minute before they expire (a timer over 2^31 - 1 ms would fire at once: never that long).
    setTimeout(() => location.reload(), Math.min(2 ** 31 - 1, Math.max(60_000, credentials.expiration - Date.now() - 60_000)));
  }
  window.addEventListener("hashchange", route);
  route();
}

void start();

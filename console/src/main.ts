// The console's shell: config, sign-in (AWS only), hash routing, focus on each view's heading.
import { useApi } from "./api";
import { signIn, type Credentials } from "./auth";
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
    const form = h("form", { class: "signin" }, field("User name", user), field("Password", password), h("button", { type: "submit" }, "Sign in"), result);
    main.replaceChildren(h("h1", { tabindex: "-1" }, "Sign in"), form);
    let finishNewPassword: ((p: string) => Promise<Credentials>) | null = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        if (finishNewPassword) return resolve(await finishNewPassword(password.value));
        const step = await signIn(config, user.value, password.value);
        if ("credentials" in step) return resolve(step.credentials);
        finishNewPassword = step.newPasswordRequired;
        password.value = "";
        result.replaceChildren(h("p", { role: "status" }, "Choose a new password, then sign in again."));
      } catch (error) {
        result.replaceChildren(refusal(error));
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
    setTimeout(() => location.reload(), Math.max(60_000, credentials.expiration - Date.now() - 60_000)); // sign in again before they expire
  }
  window.addEventListener("hashchange", route);
  route();
}

void start();

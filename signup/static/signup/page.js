// The reference sign-up page: the official ALTCHA widget solves the proof of
// work in Web Workers while the person types; its payload buys an anonymous
// session in the background; leaving the email field asks find_person;
// submitting calls create_person once (Idempotency-Key). Where the server
// verifies addresses (a 202), the page asks for the code and confirms it
// (and /confirm#t=… confirms a mailed link's token). Where the server can
// check DPoP proofs, the session is bound to a non-extractable key made in
// this page (dpop.js). When a challenge asks for Turnstile or hCaptcha, that
// widget is loaded and rendered too, and its token goes with the session
// start. Loaded as a module after the widget's own module, so
// window.$altcha exists when this runs.

import { DpopSigner, dpopSupported } from "./dpop.js";

const API = {
  challenges: "/api/v1/challenges",
  sessions: "/api/v1/sessions",
  refresh: "/api/v1/sessions/refresh",
  lookup: "/api/v1/persons/lookup",
  persons: "/api/v1/persons",
  confirm: "/api/v1/persons/confirm",
  current: "/api/v1/sessions/current",
};
const RESEND_COOLDOWN_S = 60; // the server's resend cooldown (it sends nothing before)
const REFRESH_MARGIN_MS = 30_000; // refresh the access token this long before it expires
const FIELDS = ["email", "full_name", "phone"];

const $ = (id) => document.getElementById(id);
const form = $("signup-form");
const widget = $("altcha");
const submitButton = $("submit");

// --- the publishable API key -----------------------------------------------
// Written into the page by the server (GATEHOUSE SIGNUP_PAGE_API_KEY), or
// handed over in the URL fragment (#key=…, as `make run` prints it), which
// never reaches a server log; kept for this tab only and removed from the bar.
function apiKeyFromPage() {
  const fromMeta = document.querySelector('meta[name="gatehouse-api-key"]').content.trim();
  if (fromMeta) return fromMeta;
  const fragment = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fragment) {
    sessionStorage.setItem("gatehouse-api-key", fragment.trim());
    history.replaceState(null, "", location.pathname + location.search);
  }
  // A mailed link opens in a new tab: it finds the key the code step left
  // (a publishable key, in every copy of the app anyway).
  return sessionStorage.getItem("gatehouse-api-key") ||
    localStorage.getItem("gatehouse-api-key") || "";
}
// The mailed link's single-use token (/confirm#t=…), taken out of the address bar at once.
function linkTokenFromPage() {
  const token = new URLSearchParams(location.hash.slice(1)).get("t");
  if (token) history.replaceState(null, "", location.pathname + location.search);
  return token || "";
}
const linkToken = linkTokenFromPage();
const apiKey = apiKeyFromPage();

// --- DPoP ------------------------------------------------------------------------
// The server writes the origin it checks proofs against (its PUBLIC_BASE_URL)
// into the page, or nothing when it cannot check them. Proofs are signed for
// location.origin + path, so they are only sent when the two agree; otherwise
// the page falls back to Bearer tokens (and says why in the console).
function dpopMode() {
  const origin = document.querySelector('meta[name="gatehouse-dpop-origin"]').content.trim();
  if (!origin) return "off";
  if (origin !== location.origin) {
    console.warn(`gatehouse: DPoP proofs are checked for ${origin}, this page is ` +
      `${location.origin}: using Bearer tokens. Set GATEHOUSE_PUBLIC_BASE_URL to this origin.`);
    return "off";
  }
  if (!dpopSupported()) {
    console.warn("gatehouse: no WebCrypto here (not a secure context): using Bearer tokens.");
    return "off";
  }
  return "on";
}
document.body.dataset.dpop = dpopMode(); // for tests and styling
// Made once per page, while the proof of work runs; null means Bearer.
const dpopSigner = document.body.dataset.dpop === "on"
  ? DpopSigner.create().catch((error) => {
    console.warn("gatehouse: could not create a DPoP key, using Bearer tokens:", error);
    document.body.dataset.dpop = "off";
    return null;
  })
  : Promise.resolve(null);

// --- messages in plain words -------------------------------------------------

function showBanner(text, kind = "warn") {
  const banner = $("banner");
  banner.textContent = text;
  banner.className = "banner " + kind;
  banner.hidden = !text;
}

function waitText(seconds) {
  if (!seconds) return "a little while";
  if (seconds === 1) return "1 second";
  if (seconds < 90) return `${seconds} seconds`;
  if (seconds < 5400) return `${Math.ceil(seconds / 60)} minutes`;
  return `${Math.ceil(seconds / 3600)} hours`;
}

// What a refusal means to the person in front of the page.
function refusalText(result) {
  const code = result.problem && result.problem.code;
  const wait = parseInt(result.response.headers.get("Retry-After") || "0", 10);
  switch (code) {
    case "blocked":
      return "Sign-ups from your network are blocked for now because of unusual activity. " +
        "Please try again later, or contact support if you think this is a mistake.";
    case "rate_limited":
      return `Too many attempts from here. Please wait ${waitText(wait)} and try again.`;
    case "origin_not_allowed":
    case "api_key_missing":
    case "api_key_invalid":
    case "api_key_revoked":
    case "api_key_expired":
    case "scope_denied":
      return "This page is not set up correctly (its API key was refused). " +
        "Please tell the site's owner.";
    case "service_unavailable":
    case "recaptcha_unavailable":
    case "captcha_unavailable":
    case "pat_unavailable":
      return "We can't reach one of our services right now. Please try again in a minute.";
    default:
      if (result.response.status >= 500 || result.response.status === 0) {
        return "Something went wrong on our side. Please try again in a minute.";
      }
      return (result.problem && result.problem.detail) || "The request was refused.";
  }
}

// --- HTTP -------------------------------------------------------------------

// One call. `sign(method, url)`, when given, returns the credentials headers
// for this attempt (a fresh DPoP proof each time): a proof refused only for
// want of the server's nonce is signed again with it, once.
async function api(path, body, { method = "POST", headers = {}, sign = null } = {}) {
  const signer = await dpopSigner;
  for (let attempt = 0; ; attempt++) {
    const credentials = sign ? await sign(method, location.origin + path) : {};
    const result = await send(method, path, body, { ...headers, ...credentials });
    if (signer) signer.observe(result.response);
    if (sign && signer && attempt === 0 && signer.nonceRequested(result.response)) continue;
    return result;
  }
}

async function send(method, path, body, headers) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: {
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        "X-Api-Key": apiKey,
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    response = new Response(null, { status: 503 }); // offline: reported like a 503
  }
  let data = null;
  try { data = await response.json(); } catch { /* empty or not JSON */ }
  const problem = !response.ok && data && data.code ? data : null;
  return { response, status: response.status, data, problem };
}

// --- a CAPTCHA, when the challenge asks for one ----------------------------------
// The server writes the widget scripts it can verify into the page (a site key
// is configured); the CSP allows exactly their sources. The script is loaded on
// first use and rendered explicitly; each token buys one session, so after a
// session start the widget is reset for the next one.

const CAPTCHAS = ["turnstile", "hcaptcha"];
const captchaScripts = Object.fromEntries(
  [...document.querySelectorAll('meta[name="gatehouse-captcha-script"]')]
    .map((meta) => [meta.dataset.provider, meta.content]),
);
let captcha = null; // {provider, widgetId, token, waiters}
let captchaRetries = 0;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error("could not load " + src)));
    document.head.appendChild(script);
  });
}

function captchaSettle(token) {
  captcha.token = token;
  const pending = captcha.waiters;
  captcha.waiters = [];
  for (const resolve of pending) resolve(token);
}

async function captchaPrepare(provider, siteKey, action) {
  if (captcha && captcha.provider === provider) return;
  captcha = { provider, widgetId: null, token: "", waiters: [] };
  await loadScript(captchaScripts[provider]);
  const container = $("captcha");
  container.hidden = false;
  document.body.dataset.captcha = provider; // for tests and styling
  const options = {
    sitekey: siteKey,
    callback: captchaSettle,
    "expired-callback": () => { captcha.token = ""; },
    "error-callback": () => { captcha.token = ""; },
  };
  if (provider === "turnstile" && action) options.action = action;
  captcha.widgetId = window[provider].render(container, options);
}

// The widget's token, once the person (or the widget, invisibly) has solved it.
function captchaToken() {
  if (!captcha) return Promise.resolve("");
  if (captcha.token) return Promise.resolve(captcha.token);
  setCheckStatus("Please complete the check below.");
  return new Promise((resolve) => captcha.waiters.push(resolve));
}

// A token is good for one session start: ask the widget for the next one.
function captchaSpent() {
  if (!captcha) return;
  captcha.token = "";
  window[captcha.provider].reset(captcha.widgetId);
}

// --- the proof of work and the session ---------------------------------------

let session = null; // {access, refresh, scheme ("DPoP" or "Bearer"), expiresAt}
let refreshTimer = null;
let waiters = []; // pending ensureSession() promises
let requires = [];

function setCheckStatus(text, ok = false) {
  const status = $("check-status");
  status.textContent = text;
  status.classList.toggle("ok", ok);
}

function settle(error) {
  const pending = waiters;
  waiters = [];
  for (const { resolve, reject } of pending) (error ? reject(error) : resolve(session));
}

// The widget fetches its challenge through this: our endpoint is a POST with
// X-Api-Key, and the ALTCHA challenge is one member of its JSON answer.
async function challengeFetch() {
  const result = await api(API.challenges, {});
  if (result.status !== 201) {
    fail(result);
    return result.response; // not ok: the widget shows its error state
  }
  requires = result.data.requires || [];
  const done = document.body.dataset.dpop === "on" ? ["pow", "dpop"] : ["pow"];
  const provider = CAPTCHAS.find((name) => requires.includes(name));
  const siteKey = provider && result.data[provider + "_site_key"];
  if (provider && siteKey && captchaScripts[provider]) {
    done.push(provider);
    captchaPrepare(provider, siteKey, result.data.turnstile_action).catch((error) => {
      fail(null, "The security check could not load. Please reload the page.");
      console.warn("gatehouse:", error);
    });
  }
  const missing = requires.filter((name) => !done.includes(name));
  if (missing.length) {
    fail(null, "This page only does " + done.join(" and ") + ", but its API key also requires " +
      missing.join(", ") + ". Please tell the site's owner.");
  }
  return new Response(JSON.stringify(result.data.altcha), {
    status: 200, headers: { "Content-Type": "application/json" },
  });
}

function fail(result, text) {
  const message = text || refusalText(result);
  showBanner(message, "error");
  setCheckStatus("The security check could not finish.");
  const error = new Error(message);
  error.result = result;
  settle(error);
}

async function exchange(payload) {
  const body = { altcha: payload };
  if (captcha) body[captcha.provider + "_token"] = await captchaToken();
  setCheckStatus("Almost there…");
  // With a key, the proof binds the new tokens to it (token_type "DPoP").
  const result = await api(API.sessions, body, { sign: keyProof });
  captchaSpent(); // used or refused, a CAPTCHA token is not sent twice
  if (result.status !== 201) {
    const code = result.problem && result.problem.code;
    // A refused CAPTCHA token gets one quiet retry with a fresh one, not a loop.
    captchaRetries = code === "captcha_failed" ? captchaRetries + 1 : 0;
    if (["challenge_failed", "challenge_replayed"].includes(code) ||
        (code === "captcha_failed" && captchaRetries === 1)) {
      solveAgain(); // expired while the tab slept, or already used: quietly solve a new one
      return;
    }
    fail(result);
    return;
  }
  captchaRetries = 0;
  adoptTokens(result.data);
  setCheckStatus("Security check passed.", true);
  showBanner("");
  settle(null);
}

function adoptTokens(data) {
  const lifetimeMs = (data.expires_in || 300) * 1000;
  session = {
    access: data.access,
    refresh: data.refresh,
    scheme: data.token_type === "DPoP" ? "DPoP" : "Bearer",
    expiresAt: Date.now() + lifetimeMs,
  };
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refreshSession, Math.max(1000, lifetimeMs - REFRESH_MARGIN_MS));
}

async function refreshSession() {
  if (!session) return;
  // A bound refresh token needs a proof by the same key too (without ath).
  const result = await api(API.refresh, { refresh: session.refresh },
    { sign: session.scheme === "DPoP" ? keyProof : null });
  if (result.status === 200) {
    adoptTokens(result.data);
    settle(null);
    return;
  }
  // Revoked, expired or refused: a new session replaces it quietly (anyone
  // waiting for a session is answered when the new one is exchanged).
  dropSession();
  solveAgain();
}

function dropSession() {
  session = null;
  clearTimeout(refreshTimer);
}

function solveAgain() {
  setCheckStatus("Running the security check in the background…");
  widget.reset();
  widget.verify();
}

function sessionUsable() {
  return session && Date.now() < session.expiresAt - 5000;
}

// A proof of possession with no token: session start and refresh.
async function keyProof(method, url) {
  const signer = await dpopSigner;
  return signer ? signer.headers({ method, url }) : {};
}

// The credentials of a request made with `current`'s access token: a bound
// token goes as "DPoP <access>" with a proof carrying its hash; sent as
// Bearer it would be refused, and that is the point.
function tokenCredentials(current) {
  return async (method, url) => {
    if (current.scheme !== "DPoP") return { Authorization: "Bearer " + current.access };
    const signer = await dpopSigner;
    const proof = await signer.headers({ method, url, accessToken: current.access });
    return { Authorization: "DPoP " + current.access, ...proof };
  };
}

// End a session this page no longer needs, so its tokens die at once.
function endSession(ended) {
  api(API.current, undefined, { method: "DELETE", sign: tokenCredentials(ended) }).catch(() => {});
}

// Resolves with a usable session, solving a new challenge when needed.
function ensureSession() {
  if (!apiKey) return Promise.reject(new Error("no API key"));
  if (sessionUsable()) return Promise.resolve(session);
  return new Promise((resolve, reject) => {
    waiters.push({ resolve, reject });
    if (waiters.length > 1) return; // a solve is already under way
    if (session) {
      refreshSession(); // expired while the tab slept: try the refresh token first
    } else if (widget.getState() !== "verifying") {
      solveAgain();
    }
  });
}

// A spent session (its per-session quota used up) or a dead token: replace it
// once, without the person noticing, and try again.
function sessionSpent(result) {
  if (result.status === 401) return true;
  const policy = result.response.headers.get("RateLimit-Policy") || "";
  return result.status === 429 && policy.includes('_per_session"');
}

async function withSession(path, body, headers = {}) {
  for (let attempt = 0; ; attempt++) {
    const current = await ensureSession();
    const result = await api(path, body, { headers, sign: tokenCredentials(current) });
    if (attempt === 0 && sessionSpent(result)) {
      dropSession();
      continue;
    }
    return result;
  }
}

// --- the form ------------------------------------------------------------------

function setFieldError(field, text, info = false) {
  const input = $(field);
  const error = $(field + "-error");
  if (!input || !error) return false;
  error.textContent = text || "";
  error.classList.toggle("info", Boolean(info));
  if (text && !info) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return true;
}

function clearErrors() {
  for (const field of FIELDS) setFieldError(field, "");
  showBanner("");
}

function setBusy(busy, label) {
  submitButton.setAttribute("aria-busy", busy ? "true" : "false");
  if (countdown && !busy) return; // the rate-limit countdown owns the button until it ends
  submitButton.disabled = busy;
  submitButton.querySelector(".label").textContent = label || "Create account";
}

// A refused create (429): the button counts down the Retry-After, then
// works again, and the banner says so (the countdown itself is not re-announced).
let countdown = null;
function countDown(seconds) {
  clearInterval(countdown);
  let left = Math.max(1, seconds);
  const label = submitButton.querySelector(".label");
  const tick = () => {
    if (left <= 0) {
      clearInterval(countdown);
      countdown = null;
      setBusy(false);
      showBanner("You can try again now.");
      return;
    }
    submitButton.disabled = true;
    label.textContent = `Try again in ${waitText(left)}`;
    left -= 1;
  };
  countdown = setInterval(tick, 1000);
  tick();
}

function retryAfter(result) {
  return parseInt((result && result.response.headers.get("Retry-After")) || "0", 10);
}

// Screen readers: one polite announcement, and focus where the person must look.
function announce(text) {
  const region = $("announce");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 100); // a change, even for the same text
}

function focusFirstInvalid() {
  const invalid = form.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
}

function looksLikeEmail(value) {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
}

function formBody() {
  const body = {
    email: $("email").value.trim(),
    full_name: $("full_name").value.trim(),
  };
  if ($("phone").value.trim()) body.phone = $("phone").value.trim();
  return body;
}

function checkLocally(body) {
  let ok = true;
  if (!looksLikeEmail(body.email)) ok = !setFieldError("email", "Enter a valid email address.");
  if (!body.full_name) ok = !setFieldError("full_name", "Enter your full name.") && ok;
  return ok;
}

// Leaving the email field: is this address already registered?
let lastLookup = "";
async function lookupEmail() {
  const email = $("email").value.trim();
  if (!looksLikeEmail(email) || email === lastLookup || !apiKey) return;
  lastLookup = email;
  try {
    const result = await withSession(API.lookup, { email });
    if ($("email").value.trim() !== email) return; // the person has typed on
    if (result.status === 200) {
      setFieldError("email", result.data.exists
        ? "This email is already registered. Sign in instead, or use another address." : "");
    } else if (result.status === 400) {
      showFieldErrors(result);
    } else if (result.status === 429 && !result.problem) {
      lastLookup = "";
    }
    // Other refusals of a mere check stay quiet here; submitting reports them.
  } catch {
    lastLookup = ""; // no session yet: the check runs again on submit
  }
}

function showFieldErrors(result) {
  const errors = (result.problem && result.problem.errors) || [];
  let shown = false;
  for (const error of errors) shown = setFieldError(error.field, error.detail) || shown;
  if (!shown) showBanner(refusalText(result), "error");
}

// One Idempotency-Key per distinct form content: a double click, or a retry
// after a network error, replays the same create instead of making another.
let idempotency = { body: "", key: "" };
function idempotencyKey(body) {
  const text = JSON.stringify(body);
  if (idempotency.body !== text) {
    idempotency = { body: text, key: crypto.randomUUID() };
  }
  return idempotency.key;
}

let submitting = false;
async function submit(event) {
  event.preventDefault();
  if (submitting) return;
  clearErrors();
  const body = formBody();
  if (!checkLocally(body)) {
    focusFirstInvalid();
    return;
  }
  submitting = true;
  try {
    if (!sessionUsable()) setBusy(true, "Finishing the security check…");
    await ensureSession();
    setBusy(true, "Creating your account…");
    const result = await withSession(API.persons, body, { "Idempotency-Key": idempotencyKey(body) });
    if (result.status === 201) {
      showDone(result.data);
    } else if (result.status === 202) {
      showVerify(result.data, body); // the code step; this session holds the pending sign-up
    } else if (result.status === 409) {
      setFieldError("email", "This email or phone number is already registered.");
      focusFirstInvalid();
    } else if (result.status === 400) {
      showFieldErrors(result);
      focusFirstInvalid();
    } else {
      showBanner(refusalText(result), "error");
      if (result.status === 429) countDown(retryAfter(result));
    }
  } catch (error) {
    if (!$("banner").textContent) showBanner(error.message || "The security check failed.", "error");
    if (error.result && error.result.status === 429) countDown(retryAfter(error.result));
  } finally {
    submitting = false;
    setBusy(false);
  }
}

// The person exists: say so. The session has done its one create: end it,
// start the next one now, quietly.
function showDone(person) {
  if (session) endSession(session);
  dropSession();
  ensureSession().catch(() => {});
  form.hidden = true;
  $("verify").hidden = true;
  $("confirming").hidden = true;
  const message = `${person.full_name}, your account for ${person.email} is ready.`;
  $("done-message").textContent = message;
  $("done").hidden = false;
  $("done-title").focus();
  announce(`Account created. ${message}`);
}

// --- verification: the code step -------------------------------------------------

let pendingBody = null; // the create body the code was sent for
let pendingChannel = "email"; // where it went: "email" or "sms"
let resendTimer = null;

function showVerify(pending, body) {
  pendingBody = body;
  pendingChannel = pending.channel;
  localStorage.setItem("gatehouse-api-key", apiKey);
  const bySms = pending.channel === "sms";
  const to = bySms ? body.phone : body.email;
  const minutes = Math.round((pending.expires_in || 900) / 60);
  $("verify-title").textContent = bySms ? "Check your phone" : "Check your email";
  $("verify-message").textContent = `We sent a 6-digit code ${bySms ? "by SMS " : ""}to ${to}. ` +
    `It expires in ${minutes} minutes.` + (bySms ? "" : " You can also open the link in the mail.");
  form.hidden = true;
  $("verify").hidden = false;
  $("code").value = "";
  setCodeError("");
  $("code").focus();
  startResendCountdown(RESEND_COOLDOWN_S);
}

function setCodeError(text) {
  setFieldError("code", text);
}

function startResendCountdown(seconds) {
  clearInterval(resendTimer);
  let left = seconds;
  const tick = () => {
    $("resend").disabled = left > 0;
    $("resend-wait").textContent = left > 0 ? `(in ${left} s)` : "";
    if (left-- <= 0) clearInterval(resendTimer);
  };
  tick();
  resendTimer = setInterval(tick, 1000);
}

function setVerifyBusy(busy) {
  const button = $("verify-submit");
  button.disabled = busy;
  button.setAttribute("aria-busy", busy ? "true" : "false");
}

let confirming = false;
async function confirmCode(event) {
  event.preventDefault();
  if (confirming || !pendingBody) return;
  const code = $("code").value.replace(/\s/g, "");
  if (!/^[0-9]{6}$/.test(code)) {
    setCodeError("Enter the 6 digits of the code.");
    return;
  }
  setCodeError("");
  showBanner("");
  // The code confirms the address it was sent to.
  const body = pendingChannel === "sms"
    ? { phone: pendingBody.phone, code } : { email: pendingBody.email, code };
  confirming = true;
  setVerifyBusy(true);
  try {
    const result = await withSession(API.confirm, body, { "Idempotency-Key": crypto.randomUUID() });
    confirmResult(result, "code");
  } catch (error) {
    showBanner(error.message || "The security check failed.", "error");
  } finally {
    confirming = false;
    setVerifyBusy(false);
  }
}

function confirmResult(result, by) {
  const code = result.problem && result.problem.code;
  if (result.status === 201) {
    showDone(result.data);
  } else if (code === "verification_code_invalid") {
    setCodeError("That code isn't right. Check it and try again.");
  } else if (code === "verification_expired") {
    const text = by === "token"
      ? "This link has expired or was already used. Please sign up again."
      : "This code has expired or was tried too many times. Send a new code.";
    if (by === "token") showBanner(text, "error");
    else setCodeError(text);
    startResendCountdown(0);
  } else if (result.status === 409) {
    showBanner("This email or phone number is already registered.", "error");
  } else if (result.status === 400) {
    showFieldErrors(result);
  } else {
    showBanner(refusalText(result), "error");
  }
}

// The resend is the same create again (a new Idempotency-Key, or it would
// only replay the first answer); the server sends nothing within its cooldown.
async function resend() {
  if (!pendingBody) return;
  showBanner("");
  setCodeError("");
  $("resend").disabled = true;
  const result = await withSession(API.persons, pendingBody,
    { "Idempotency-Key": crypto.randomUUID() }).catch((error) => ({ error }));
  if (result.error) {
    showBanner(result.error.message || "The security check failed.", "error");
    startResendCountdown(0);
  } else if (result.status === 202) {
    $("verify-message").textContent = "We sent a new code. Earlier codes no longer work.";
    startResendCountdown(RESEND_COOLDOWN_S);
  } else {
    showBanner(refusalText(result), "error");
    startResendCountdown(0);
  }
}

function changeAddress() {
  pendingBody = null;
  clearInterval(resendTimer);
  $("verify").hidden = true;
  form.hidden = false;
  $("email").focus();
}

// Opened from the mailed link: confirm its token, then say how it went.
async function confirmLink() {
  form.hidden = true;
  $("confirming").hidden = false;
  try {
    const result = await withSession(API.confirm, { token: linkToken },
      { "Idempotency-Key": crypto.randomUUID() });
    if (result.status !== 201) $("confirming-message").textContent = "";
    confirmResult(result, "token");
  } catch (error) {
    showBanner(error.message || "The security check failed.", "error");
  }
}

function again() {
  // Not form.reset(): the widget resets itself on that event, which would
  // abort the next session's proof of work already running in the background.
  for (const field of FIELDS) $(field).value = "";
  idempotency = { body: "", key: "" };
  lastLookup = "";
  clearErrors();
  $("announce").textContent = "";
  $("done").hidden = true;
  $("confirming").hidden = true;
  form.hidden = false;
  $("email").focus();
}

// --- wiring ----------------------------------------------------------------------

function registerWorkers() {
  // The "external" widget build ships no workers of its own: these files are
  // same-origin, so the CSP needs no blob: workers.
  const base = document.querySelector('meta[name="altcha-workers"]').content;
  const sha = () => new Worker(base + "sha.js");
  const pbkdf2 = () => new Worker(base + "pbkdf2.js");
  for (const name of ["SHA-256", "SHA-384", "SHA-512"]) window.$altcha.algorithms.set(name, sha);
  for (const name of ["PBKDF2/SHA-256", "PBKDF2/SHA-384", "PBKDF2/SHA-512"]) {
    window.$altcha.algorithms.set(name, pbkdf2);
  }
}

function start() {
  registerWorkers();
  widget.configure({
    challenge: API.challenges,
    fetch: challengeFetch,
    hideFooter: true,
    minDuration: 0,
  });
  widget.addEventListener("statechange", (event) => {
    const state = event.detail.state;
    document.body.dataset.altchaState = state; // for tests and styling
    if (state === "verifying") setCheckStatus("Running the security check in the background…");
    if (state === "expired") {
      if (!session) solveAgain(); // the challenge expired before it was used
    }
    if (state === "error" && waiters.length) fail(null, "The security check failed. Please reload the page.");
  });
  widget.addEventListener("verified", (event) => exchange(event.detail.payload));
  form.addEventListener("submit", submit);
  $("email").addEventListener("blur", lookupEmail);
  $("email").addEventListener("input", () => setFieldError("email", ""));
  $("again").addEventListener("click", again);
  $("verify-form").addEventListener("submit", confirmCode);
  $("resend").addEventListener("click", resend);
  $("change").addEventListener("click", changeAddress);
  $("code").addEventListener("input", () => setCodeError(""));
  if (!apiKey) {
    showBanner("This page has no API key. Open it with the link `make run` prints " +
      "(…/#key=gh_pub_…), or set GATEHOUSE_SIGNUP_PAGE_API_KEY.", "error");
    setCheckStatus("");
    return;
  }
  if (linkToken) {
    confirmLink();
    return;
  }
  ensureSession().catch(() => {}); // solve while the person types
}

// The widget's methods exist once it has mounted (its "load" event), which
// may already have happened by the time this module runs.
let started = false;
function startOnce() {
  if (started || typeof widget.configure !== "function") return;
  started = true;
  start();
}
widget.addEventListener("load", () => setTimeout(startOnce));
customElements.whenDefined("altcha-widget").then(() => setTimeout(startOnce));

// ALTCHA proof-of-work solver in plain JS + WebCrypto (no library, no build step).
// v2 challenges ({"parameters": {...}, "signature": ...}): find the counter whose
// derived key KDF(salt, nonce || uint32be(counter)) starts with keyPrefix.
// WebCrypto offers SHA-256/384/512 and PBKDF2, so the "SHA-*" and "PBKDF2/SHA-*"
// algorithms are solved here; ARGON2ID and SCRYPT are not in WebCrypto and would
// need a WebAssembly solver (refused with a clear message).
// v1 challenges ({"algorithm", "challenge", "salt", "maxnumber", "signature"}) are
// solved too: find n with hex(SHA(salt + n)) == challenge.
"use strict";

const altchaHex = (bytes) =>
  Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
const altchaUnhex = (text) => new Uint8Array((text.match(/../g) || []).map((h) => parseInt(h, 16)));
const altchaBase64 = (text) => {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  bytes.forEach((b) => { binary += String.fromCharCode(b); });
  return btoa(binary);
};
const altchaShaName = (name) =>
  (["SHA-1", "SHA-384", "SHA-512"].includes(String(name).toUpperCase())
    ? String(name).toUpperCase() : "SHA-256");

async function altchaDeriveKey(params, salt, password) {
  const algorithm = String(params.algorithm).toUpperCase();
  const length = params.keyLength || 32;
  if (algorithm.startsWith("PBKDF2")) {
    const hash = altchaShaName(algorithm.split("/")[1] || "SHA-256");
    const key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash, salt, iterations: params.cost }, key, length * 8);
    return new Uint8Array(bits);
  }
  if (algorithm.startsWith("SHA-")) {
    const hash = ["SHA-384", "SHA-512"].includes(algorithm) ? algorithm : "SHA-256";
    let data = new Uint8Array(salt.length + password.length);
    data.set(salt);
    data.set(password, salt.length);
    for (let i = 0; i < Math.max(1, params.cost); i++) {
      data = new Uint8Array(await crypto.subtle.digest(hash, data));
    }
    return data.slice(0, length);
  }
  throw new Error(params.algorithm + " is not available in WebCrypto; this demo solves SHA-* and PBKDF2/* challenges only.");
}

// Counters are tried in batches whose derivations run concurrently: WebCrypto
// calls are asynchronous, and awaiting them one by one is several times slower.
const ALTCHA_BATCH = 1000;

async function altchaSolveV2(challenge) {
  const params = challenge.parameters;
  const nonce = altchaUnhex(params.nonce);
  const salt = altchaUnhex(params.salt);
  const prefix = String(params.keyPrefix || "00").toLowerCase();
  const started = Date.now();
  const attempt = async (counter) => {
    const password = new Uint8Array(nonce.length + 4);
    password.set(nonce);
    new DataView(password.buffer).setUint32(nonce.length, counter, false);
    return altchaHex(await altchaDeriveKey(params, salt, password));
  };
  for (let first = 0; first <= 0xffffffff; first += ALTCHA_BATCH) {
    const counters = [];
    for (let c = first; c < first + ALTCHA_BATCH && c <= 0xffffffff; c++) counters.push(c);
    const keys = await Promise.all(counters.map(attempt));
    const found = keys.findIndex((key) => key.startsWith(prefix));
    if (found >= 0) {
      const solution = { counter: counters[found], derivedKey: keys[found], time: Date.now() - started };
      return altchaBase64(JSON.stringify({ challenge, solution }));
    }
  }
  throw new Error("no solution found");
}

async function altchaSolveV1(challenge) {
  const hash = altchaShaName(challenge.algorithm);
  const max = challenge.maxnumber || challenge.maxNumber || 1000000;
  const encoder = new TextEncoder();
  for (let number = 0; number <= max; number++) {
    const digest = altchaHex(await crypto.subtle.digest(hash, encoder.encode(challenge.salt + number)));
    if (digest === challenge.challenge) {
      return altchaBase64(JSON.stringify({
        algorithm: challenge.algorithm, challenge: challenge.challenge, number,
        salt: challenge.salt, signature: challenge.signature,
      }));
    }
  }
  throw new Error("no solution found");
}

// Returns the base64 payload to send as "altcha" in POST /api/v1/sessions.
async function altchaSolve(challenge) {
  return challenge.parameters ? altchaSolveV2(challenge) : altchaSolveV1(challenge);
}

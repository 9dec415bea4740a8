// DPoP (RFC 9449) in the browser: one ECDSA P-256 key per page, created by
// WebCrypto as non-extractable, so no script (this page's or an injected one)
// can read the private key out; it can only ask the browser to sign with it.
// A token stolen from this tab is useless elsewhere: every request needs a
// fresh proof signed by this key.
//
// The key lives as long as the page, like the tokens it protects (they are
// kept in memory only). Persisting it (IndexedDB can store a non-extractable
// CryptoKey) would buy nothing without the tokens, and would give the server
// a stable identifier for this browser across visits.

const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGN_ALGORITHM = { name: "ECDSA", hash: "SHA-256" };

function base64url(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const utf8 = (text) => new TextEncoder().encode(text);
const jsonPart = (value) => base64url(utf8(JSON.stringify(value)));

// Whether this browser can hold a DPoP key: WebCrypto exists only in secure
// contexts (HTTPS, or http://127.0.0.1 / localhost).
export function dpopSupported() {
  return Boolean(window.isSecureContext && window.crypto && crypto.subtle);
}

export class DpopSigner {
  // Use DpopSigner.create(): the key is made asynchronously.
  constructor(privateKey, publicJwk) {
    this.privateKey = privateKey;
    this.jwk = publicJwk;
    this.nonce = null; // the server's latest DPoP-Nonce, sent in every proof
    this.clockOffsetMs = 0; // server clock minus ours, from the Date header
  }

  static async create() {
    const pair = await crypto.subtle.generateKey(KEY_ALGORITHM, false /* non-extractable */, ["sign"]);
    // A public key is always exportable, whatever the flag says about the private one.
    const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
    return new DpopSigner(pair.privateKey, { kty, crv, x, y });
  }

  // Learn from every response: a new nonce (RFC 9449 section 8), and the
  // server's clock, so a proof's iat is right even when this device's clock is off.
  observe(response) {
    const nonce = response.headers.get("DPoP-Nonce");
    if (nonce) this.nonce = nonce;
    const serverTime = Date.parse(response.headers.get("Date") || "");
    if (!Number.isNaN(serverTime)) this.clockOffsetMs = serverTime - Date.now();
  }

  // Whether the server refused a proof only for want of a nonce it has now
  // sent: the request is worth signing again, once.
  nonceRequested(response) {
    const challenge = response.headers.get("WWW-Authenticate") || "";
    return response.status === 401 && /use_dpop_nonce/.test(challenge) &&
      Boolean(response.headers.get("DPoP-Nonce"));
  }

  // The DPoP header for one request. `url` is absolute (the htu the server
  // compares with PUBLIC_BASE_URL + path); `accessToken`, on resource
  // requests, goes in as its hash (ath). A JWS ES256 signature is the raw
  // r || s pair, which is what WebCrypto's ECDSA returns: no DER to undo.
  async headers({ method, url, accessToken = null }) {
    const claims = {
      jti: crypto.randomUUID(),
      htm: method,
      htu: url,
      iat: Math.floor((Date.now() + this.clockOffsetMs) / 1000),
    };
    if (accessToken) {
      claims.ath = base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(accessToken))));
    }
    if (this.nonce) claims.nonce = this.nonce;
    const signingInput = jsonPart({ typ: "dpop+jwt", alg: "ES256", jwk: this.jwk }) + "." + jsonPart(claims);
    const signature = await crypto.subtle.sign(SIGN_ALGORITHM, this.privateKey, utf8(signingInput));
    return { DPoP: signingInput + "." + base64url(new Uint8Array(signature)) };
  }
}

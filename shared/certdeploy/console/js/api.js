// The console's only way to the server: CAS 2020-04-07 RPC calls signed in the browser with ACS3-HMAC-SHA256
// (docs/console.md#sign-in). The AccessKey secret becomes a non-extractable WebCrypto HMAC key held in memory only:
// it is never written to any storage, so a reload or "Sign out" forgets it.

const VERSION = "2020-04-07";
const ALGORITHM = "ACS3-HMAC-SHA256";
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
// The server runs at most 4 calls of one process at once (README "Limits"): stay under it.
const MAX_IN_FLIGHT = 3;

const encoder = new TextEncoder();
let credential = null;
let inFlight = 0;
const waiting = [];

export class CasError extends Error {
  constructor(code, message, requestId, status) {
    super(`${code}: ${message}`);
    this.code = code;
    this.casMessage = message;
    this.requestId = requestId;
    this.status = status;
  }
}

// RFC 3986 percent-encoding as the server's canonical query string uses it (only A-Z a-z 0-9 - _ . ~ stay).
export function percentEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export function canonicalQuery(params) {
  return Object.entries(params)
    .map(([name, value]) => [name, String(value)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${percentEncode(name)}=${percentEncode(value)}`)
    .join("&");
}

export async function signIn(accessKeyId, accessKeySecret) {
  if (!globalThis.crypto || !crypto.subtle) {
    throw new CasError("InsecureContext", "WebCrypto needs HTTPS (or http://127.0.0.1 / localhost).", "", 0);
  }
  const key = await crypto.subtle.importKey(
    "raw", encoder.encode(accessKeySecret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"],
  );
  credential = { accessKeyId, key };
}

export function signOut() {
  credential = null;
}

export function signedIn() {
  return credential !== null;
}

export function accessKeyId() {
  return credential ? credential.accessKeyId : "";
}

async function signedHeaders(action, query) {
  const headers = {
    host: location.host,
    "x-acs-action": action,
    "x-acs-content-sha256": EMPTY_SHA256,
    "x-acs-date": new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    "x-acs-signature-nonce": crypto.randomUUID(),
    "x-acs-version": VERSION,
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${headers[name].trim()}\n`).join("");
  const signed = names.join(";");
  const request = ["POST", "/", query, canonicalHeaders, signed, EMPTY_SHA256].join("\n");
  const toSign = `${ALGORITHM}\n${await sha256Hex(request)}`;
  const signature = hex(await crypto.subtle.sign("HMAC", credential.key, encoder.encode(toSign)));
  delete headers.host; // the browser sends Host itself
  headers.authorization = `${ALGORITHM} Credential=${credential.accessKeyId},SignedHeaders=${signed},Signature=${signature}`;
  return headers;
}

async function slot() {
  if (inFlight < MAX_IN_FLIGHT) {
    inFlight += 1;
    return;
  }
  await new Promise((resolve) => waiting.push(resolve));
}

function release() {
  const next = waiting.shift();
  if (next) next();
  else inFlight -= 1;
}

// One CAS action; resolves to the reply body, rejects with a CasError carrying the API's Code and Message.
export async function call(action, params = {}) {
  if (!credential) throw new CasError("NotSignedIn", "Sign in with an AccessKey first.", "", 0);
  const defined = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== ""));
  const query = canonicalQuery(defined);
  await slot();
  try {
    for (let attempt = 0; ; attempt += 1) {
      const response = await fetch(`/?${query}`, { method: "POST", headers: await signedHeaders(action, query) });
      let body;
      try {
        body = await response.json();
      } catch {
        throw new CasError("InvalidResponse", `HTTP ${response.status} without a CAS body`, "", response.status);
      }
      if (response.ok && !body.Code) return body;
      if (body.Code === "Throttling.User" && attempt < 2) {
        await new Promise((resolve) => setTimeout(resolve, 400 * (attempt + 1)));
        continue;
      }
      throw new CasError(body.Code || "UnknownError", body.Message || "", body.RequestId || "", response.status);
    }
  } finally {
    release();
  }
}

// Every page of a paged action, for the short lists a picker needs (contacts, certificates, resources).
export async function callAll(action, params, listKey, totalKey = "Total", size = 100) {
  const items = [];
  for (let page = 1; ; page += 1) {
    const body = await call(action, { ...params, CurrentPage: page, ShowSize: size });
    const batch = body[listKey] || [];
    items.push(...batch);
    if (batch.length < size || items.length >= (body[totalKey] ?? 0)) return items;
  }
}

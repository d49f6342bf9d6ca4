// A Fedify (https://fedify.dev) peer for Myna's interop tests.
//
// It serves one actor, `peer`, at http://HOST:PORT/users/peer with a personal
// inbox, a shared inbox, an outbox and a followers collection, using Fedify's
// own createFederation + MemoryKvStore, with an RSA (RSASSA-PKCS1-v1_5) and an
// Ed25519 key pair.  Tests drive it through a small JSON control API on the
// same port (POST /control/...) and read what happened from /control/events;
// every event is also printed to stdout as one JSON line.
//
// Usage: node peer.mjs [--host 127.0.0.1] [--port 0] [--username peer]
//                      [--exit-on-stdin-close]
// Set FEDIFY_PEER_LOG=debug|info|warning to see Fedify's own log on stderr.
import { onOutgoing, signatureSpecOf } from "./env.mjs"; // must stay first
import { createServer } from "node:http";
import { createHash, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { configure } from "@logtape/logtape";
import {
  createFederation,
  exportJwk,
  generateCryptoKeyPair,
  MemoryKvStore,
  signRequest,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Create,
  Endpoints,
  Follow,
  isActor,
  Person,
  Reject,
  Undo,
} from "@fedify/vocab";

const { values: args } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "0" },
    username: { type: "string", default: "peer" },
    "exit-on-stdin-close": { type: "boolean", default: false },
  },
});
const HOST = args.host;
const USERNAME = args.username;

// ---------------------------------------------------------------- events --
const events = [];
function emit(event) {
  const record = { seq: events.length, time: new Date().toISOString(), ...event };
  events.push(record);
  process.stdout.write(JSON.stringify(record) + "\n");
  return record;
}
onOutgoing((record) => emit({ event: "http_out", ...record }));

function describeError(error) {
  if (error == null) return null;
  const out = { name: error.name, message: String(error.message ?? error) };
  if (error.cause) out.cause = String(error.cause?.message ?? error.cause);
  if (error.statusCode) out.statusCode = error.statusCode;
  if (error.responseBody) out.responseBody = String(error.responseBody).slice(0, 500);
  return out;
}

function jsonSafe(value) {
  return JSON.parse(
    JSON.stringify(value, (_k, v) => {
      if (v instanceof URL) return v.href;
      if (v instanceof Error) return describeError(v);
      if (typeof v === "bigint") return v.toString();
      if (typeof CryptoKey !== "undefined" && v instanceof CryptoKey) {
        return { type: v.type, algorithm: v.algorithm?.name };
      }
      return v;
    }) ?? "null",
  );
}

// ---------------------------------------------------------------- logging --
const logLevel = process.env.FEDIFY_PEER_LOG ?? "warning";
await configure({
  sinks: {
    stderr(record) {
      const message = record.message
        .map((part) => (typeof part === "string" ? part : safeStringify(part)))
        .join("");
      process.stderr.write(
        `[fedify ${record.level}] ${record.category.join(".")}: ${message}\n`,
      );
    },
  },
  loggers: [
    { category: "fedify", lowestLevel: logLevel, sinks: ["stderr"] },
    { category: ["logtape", "meta"], lowestLevel: "error", sinks: ["stderr"] },
  ],
});

function safeStringify(value) {
  try {
    return typeof value === "object" ? JSON.stringify(jsonSafe(value)) : String(value);
  } catch {
    return String(value);
  }
}

// ------------------------------------------------------------- federation --
const rsaKeyPair = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const ed25519KeyPair = await generateCryptoKeyPair("Ed25519");
const followers = new Map(); // actor id -> { id, inboxId, endpoints }

const federation = createFederation({
  kv: new MemoryKvStore(),
  // Myna runs on loopback in the tests.
  allowPrivateAddress: true,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USERNAME) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Fedify interop peer",
      summary: "A Fedify peer used by Myna's interop tests.",
      url: ctx.getActorUri(identifier),
      inbox: ctx.getInboxUri(identifier),
      outbox: ctx.getOutboxUri(identifier),
      followers: ctx.getFollowersUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      manuallyApprovesFollowers: false,
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
    });
  })
  .setKeyPairsDispatcher((_ctx, identifier) =>
    identifier === USERNAME ? [rsaKeyPair, ed25519KeyPair] : []
  );

federation
  .setOutboxDispatcher("/users/{identifier}/outbox", (_ctx, identifier) =>
    identifier === USERNAME ? { items: [] } : null
  )
  .setCounter((_ctx, identifier) => (identifier === USERNAME ? 0 : null));

federation
  .setFollowersDispatcher("/users/{identifier}/followers", (_ctx, identifier) =>
    identifier === USERNAME ? { items: [...followers.values()] } : null
  )
  .setCounter((_ctx, identifier) => (identifier === USERNAME ? followers.size : null));

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  // Fedify only calls these listeners after it verified the HTTP signature
  // (or an object proof) and checked that the signer owns the `actor`.
  .on(Accept, async (ctx, accept) => {
    emit({
      event: "accept",
      verified: true,
      recipient: ctx.recipient,
      id: accept.id?.href ?? null,
      actor: accept.actorId?.href ?? null,
      object: accept.objectId?.href ?? null,
      json: await accept.toJsonLd({ format: "compact" }),
    });
  })
  .on(Reject, async (ctx, reject) => {
    emit({
      event: "reject",
      verified: true,
      recipient: ctx.recipient,
      id: reject.id?.href ?? null,
      actor: reject.actorId?.href ?? null,
      object: reject.objectId?.href ?? null,
    });
  })
  .on(Follow, async (ctx, follow) => {
    const record = {
      event: "follow",
      verified: true,
      recipient: ctx.recipient,
      id: follow.id?.href ?? null,
      actor: follow.actorId?.href ?? null,
      object: follow.objectId?.href ?? null,
    };
    emit(record);
    if (follow.objectId?.href !== ctx.getActorUri(USERNAME).href) return;
    const follower = await follow.getActor(ctx);
    if (follower == null || !isActor(follower)) {
      emit({ event: "follow_ignored", reason: "could not resolve follower", id: record.id });
      return;
    }
    followers.set(follower.id.href, {
      id: follower.id,
      inboxId: follower.inboxId,
      endpoints: follower.endpoints,
    });
    const accept = new Accept({
      id: new URL(`/accepts/${randomUUID()}`, ctx.getActorUri(USERNAME)),
      actor: ctx.getActorUri(USERNAME),
      object: follow,
    });
    try {
      await ctx.sendActivity({ identifier: USERNAME }, follower, accept, {
        immediate: true,
      });
      emit({ event: "accept_sent", id: accept.id.href, to: follower.id.href });
    } catch (error) {
      emit({ event: "accept_send_failed", to: follower.id.href, error: describeError(error) });
    }
  })
  .on(Undo, async (ctx, undo) => {
    const object = await undo.getObject(ctx).catch(() => null);
    if (object instanceof Follow && undo.actorId) followers.delete(undo.actorId.href);
    emit({
      event: "undo",
      verified: true,
      recipient: ctx.recipient,
      id: undo.id?.href ?? null,
      actor: undo.actorId?.href ?? null,
      object: undo.objectId?.href ?? null,
    });
  })
  .on(Create, async (ctx, create) => {
    // Parse the embedded object the way a Fedify app would (no fetch when embedded).
    const object = await create.getObject(ctx);
    emit({
      event: "create",
      verified: true,
      recipient: ctx.recipient,
      id: create.id?.href ?? null,
      actor: create.actorId?.href ?? null,
      to: create.toIds.map((u) => u.href),
      cc: create.ccIds.map((u) => u.href),
      object: object == null ? null : {
        class: object.constructor.name,
        id: object.id?.href ?? null,
        attributedTo: object.attributionId?.href ?? null,
        content: object.content?.toString() ?? null,
        to: object.toIds.map((u) => u.href),
        cc: object.ccIds.map((u) => u.href),
        url: object.url?.href ?? null,
        published: object.published?.toString() ?? null,
      },
      json: await create.toJsonLd({ format: "compact" }),
    });
  })
  .on(Activity, async (ctx, activity) => {
    emit({
      event: "activity",
      verified: true,
      recipient: ctx.recipient,
      type: activity.constructor.name,
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      json: await activity.toJsonLd({ format: "compact" }),
    });
  })
  .onUnverifiedActivity((_ctx, activity, reason) => {
    emit({
      event: "unverified",
      type: activity?.constructor?.name ?? null,
      id: activity?.id?.href ?? null,
      actor: activity?.actorId?.href ?? null,
      reason: jsonSafe(reason),
    });
  })
  .onError((_ctx, error) => {
    emit({ event: "inbox_error", error: describeError(error) });
  });

// ----------------------------------------------------------- control API --
let baseUrl = null; // set once listening
// When set (POST /control/config {"inboxRequires": "rfc9421"}), inbox POSTs not
// signed with that spec get a 401 before Fedify sees them, like a peer that
// only speaks one spec; senders that double-knock then retry with the other.
let inboxRequires = null;
function context() {
  return federation.createContext(new URL(baseUrl), undefined);
}

async function actorKeys() {
  const pairs = await context().getActorKeyPairs(USERNAME);
  const rsa = pairs.find((p) => p.privateKey.algorithm.name === "RSASSA-PKCS1-v1_5");
  const ed = pairs.find((p) => p.privateKey.algorithm.name === "Ed25519");
  return { rsa, ed };
}

async function summarize(object) {
  if (object == null) return null;
  const summary = {
    class: object.constructor.name,
    id: object.id?.href ?? null,
    isActor: isActor(object),
    json: await object.toJsonLd({ format: "compact" }),
  };
  if (!isActor(object)) return summary;
  const ctx = context();
  summary.preferredUsername = object.preferredUsername?.toString() ?? null;
  summary.inbox = object.inboxId?.href ?? null;
  summary.sharedInbox = object.endpoints?.sharedInbox?.href ?? null;
  summary.outbox = object.outboxId?.href ?? null;
  summary.followers = object.followersId?.href ?? null;
  summary.following = object.followingId?.href ?? null;
  summary.publicKeys = [];
  for await (const key of object.getPublicKeys({ documentLoader: ctx.documentLoader })) {
    summary.publicKeys.push({
      id: key.id?.href ?? null,
      owner: key.ownerId?.href ?? null,
      algorithm: key.publicKey?.algorithm?.name ?? null,
    });
  }
  summary.assertionMethods = [];
  for await (const key of object.getAssertionMethods({ documentLoader: ctx.documentLoader })) {
    summary.assertionMethods.push({
      id: key.id?.href ?? null,
      controller: key.controllerId?.href ?? null,
      algorithm: key.publicKey?.algorithm?.name ?? null,
    });
  }
  return summary;
}

// Interop: Fedify's own acct: lookup always uses https://, but Myna runs over
// plain http on loopback in tests, so resolve the handle ourselves.
async function webfingerHttp(resource) {
  const m = /^(?:acct:)?@?([^@]+)@(.+)$/.exec(resource);
  if (!m) throw new TypeError(`not an acct: handle: ${resource}`);
  const [, user, host] = m;
  const url = `http://${host}/.well-known/webfinger?resource=acct:${user}@${host}`;
  const response = await fetch(url, { headers: { accept: "application/jrd+json" } });
  const text = await response.text();
  let jrd = null;
  try {
    jrd = JSON.parse(text);
  } catch {
    // leave jrd null
  }
  const selfLinks = (jrd?.links ?? []).filter(
    (l) =>
      l.rel === "self" &&
      (l.type === "application/activity+json" ||
        /^application\/ld\+json/.test(l.type ?? "")),
  );
  return {
    url,
    status: response.status,
    contentType: response.headers.get("content-type"),
    jrd,
    self: selfLinks.length === 1 ? selfLinks[0].href : null,
    selfLinkCount: selfLinks.length,
  };
}

async function resolveActor(target) {
  const url = /^https?:\/\//.test(target) ? target : (await webfingerHttp(target)).self;
  if (url == null) throw new Error(`could not resolve ${target}`);
  const object = await context().lookupObject(url);
  if (object == null) throw new Error(`lookupObject(${url}) returned null`);
  if (!isActor(object)) throw new Error(`${url} is a ${object.constructor.name}, not an actor`);
  return object;
}

async function controlFollow({ target }) {
  const ctx = context();
  const actor = await resolveActor(target);
  const follow = new Follow({
    id: new URL(`/follows/${randomUUID()}`, baseUrl),
    actor: ctx.getActorUri(USERNAME),
    object: actor.id,
    to: actor.id,
  });
  const firstSeq = events.length;
  let error = null;
  try {
    await ctx.sendActivity({ identifier: USERNAME }, actor, follow, { immediate: true });
  } catch (e) {
    error = describeError(e);
  }
  const outgoing = events
    .slice(firstSeq)
    .filter((e) => e.event === "http_out" && e.method === "POST");
  const record = emit({
    event: "follow_sent",
    ok: error == null,
    id: follow.id.href,
    target: actor.id.href,
    inbox: actor.inboxId?.href ?? null,
    error,
    knocks: outgoing.map(({ url, spec, status, error }) => ({ url, spec, status, error })),
  });
  return record;
}

async function contentDigestHeaders(headers, body) {
  const hash = createHash("sha256").update(body).digest("base64");
  if (headers.has("digest")) headers.set("digest", `SHA-256=${hash}`);
  if (headers.has("content-digest")) headers.set("content-digest", `sha-256=:${hash}:`);
}

// kind: unsigned | forged | tampered | tampered_digest | signed
//   forged:          signed by a fresh key pair, keyId claims the peer's key
//   tampered:        signed by the peer's key, then the body is replaced
//   tampered_digest: like tampered, and Digest/Content-Digest recomputed for
//                    the new body (so only the signature itself can catch it)
// spec: draft-cavage-http-signatures-12 | rfc9421
// (Fedify's signRequest signs with RSA keys only, so probes use the RSA key.)
async function controlProbe({ name, kind, spec, url, activity, sent_activity }) {
  const signedBody = JSON.stringify(activity);
  let request = new Request(url, {
    method: "POST",
    headers: {
      "content-type": "application/activity+json",
      accept: "application/activity+json",
    },
    body: signedBody,
  });
  const { rsa } = await actorKeys();
  if (kind !== "unsigned") {
    let privateKey = rsa.privateKey;
    if (kind === "forged") {
      privateKey = (await generateCryptoKeyPair("RSASSA-PKCS1-v1_5")).privateKey;
    } else if (!["tampered", "tampered_digest", "signed"].includes(kind)) {
      throw new TypeError(`unknown probe kind: ${kind}`);
    }
    request = await signRequest(request, privateKey, rsa.keyId, { spec });
    if (kind === "tampered" || kind === "tampered_digest") {
      const newBody = JSON.stringify(sent_activity);
      const headers = new Headers(request.headers);
      headers.delete("content-length");
      if (kind === "tampered_digest") await contentDigestHeaders(headers, newBody);
      request = new Request(request.url, { method: "POST", headers, body: newBody });
    }
  }
  const requestHeaders = Object.fromEntries(request.headers);
  const response = await fetch(request);
  const body = await response.text();
  return emit({
    event: "probe",
    name: name ?? `${kind}:${spec ?? "none"}`,
    kind,
    spec: kind === "unsigned" ? null : spec,
    keyId: kind === "unsigned" ? null : rsa.keyId.href,
    url,
    status: response.status,
    body: body.slice(0, 1000),
    requestHeaders,
  });
}

async function controlKeys() {
  const { rsa, ed } = await actorKeys();
  return {
    actor: context().getActorUri(USERNAME).href,
    rsa: {
      keyId: rsa.keyId.href,
      privateJwk: await exportJwk(rsa.privateKey),
      publicJwk: await exportJwk(rsa.publicKey),
    },
    ed25519: {
      keyId: ed.keyId.href,
      multikeyId: ed.multikey.id.href,
      privateJwk: await exportJwk(ed.privateKey),
      publicJwk: await exportJwk(ed.publicKey),
    },
  };
}

async function handleControl(method, url, body) {
  const path = url.pathname;
  if (method === "GET" && path === "/control/events") {
    const since = Number(url.searchParams.get("since") ?? 0);
    return { events: events.slice(since) };
  }
  if (method === "GET" && path === "/control/keys") return await controlKeys();
  if (method !== "POST") return null;
  const input = body.length ? JSON.parse(body.toString("utf8")) : {};
  switch (path) {
    case "/control/webfinger":
      return await webfingerHttp(input.resource);
    case "/control/lookup": {
      const object = await context().lookupObject(input.url);
      return { object: await summarize(object) };
    }
    case "/control/follow":
      return await controlFollow(input);
    case "/control/probe":
      return await controlProbe(input);
    case "/control/config":
      if ("inboxRequires" in input) inboxRequires = input.inboxRequires ?? null;
      return { inboxRequires };
    case "/control/shutdown":
      setTimeout(() => shutdown("control"), 10);
      return { ok: true };
    default:
      return null;
  }
}

// ------------------------------------------------------------ HTTP server --
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendJson(res, status, value) {
  const text = JSON.stringify(jsonSafe(value));
  res.writeHead(status, { "content-type": "application/json" });
  res.end(text);
}

const server = createServer(async (req, res) => {
  let url;
  try {
    url = new URL(req.url, `http://${req.headers.host ?? HOST}`);
    const body = await readBody(req);
    if (url.pathname.startsWith("/control/")) {
      try {
        const result = await handleControl(req.method, url, body);
        if (result == null) sendJson(res, 404, { error: "unknown control endpoint" });
        else sendJson(res, 200, result);
      } catch (error) {
        emit({ event: "control_error", path: url.pathname, error: describeError(error) });
        sendJson(res, 500, { error: describeError(error) });
      }
      return;
    }
    const headers = new Headers();
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
    }
    const hasBody = !["GET", "HEAD"].includes(req.method);
    const spec = signatureSpecOf(headers);
    if (
      req.method === "POST" && inboxRequires != null && spec !== inboxRequires &&
      /\/inbox$/.test(url.pathname)
    ) {
      const reason = `this peer only accepts ${inboxRequires} signatures`;
      emit({ event: "http_in", method: "POST", path: url.pathname, spec, status: 401, body: reason });
      res.writeHead(401, { "content-type": "text/plain" });
      res.end(reason);
      return;
    }
    const request = new Request(url, {
      method: req.method,
      headers,
      body: hasBody ? body : undefined,
    });
    const response = await federation.fetch(request, {
      contextData: undefined,
      onNotFound: () => new Response("Not found", { status: 404 }),
      onNotAcceptable: () =>
        new Response("Not acceptable", { status: 406, headers: { vary: "Accept" } }),
    });
    const responseBody = Buffer.from(await response.arrayBuffer());
    const record = {
      event: "http_in",
      method: req.method,
      path: url.pathname + url.search,
      spec,
      accept: headers.get("accept"),
      status: response.status,
    };
    if (response.status >= 400) record.body = responseBody.toString("utf8").slice(0, 500);
    emit(record);
    res.writeHead(response.status, Object.fromEntries(response.headers));
    res.end(responseBody);
  } catch (error) {
    emit({ event: "server_error", path: url?.pathname ?? req.url, error: describeError(error) });
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("internal error");
  }
});

let shuttingDown = false;
function shutdown(reason) {
  if (shuttingDown) return;
  shuttingDown = true;
  emit({ event: "exit", reason });
  server.close();
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 50).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
if (args["exit-on-stdin-close"]) {
  process.stdin.on("end", () => shutdown("stdin closed"));
  process.stdin.on("close", () => shutdown("stdin closed"));
  process.stdin.resume();
}

server.listen(Number(args.port), HOST, () => {
  const { port } = server.address();
  baseUrl = `http://${HOST}:${port}`;
  emit({
    event: "ready",
    port,
    base: baseUrl,
    actor: `${baseUrl}/users/${USERNAME}`,
    node: process.version,
  });
});

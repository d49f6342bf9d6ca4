// Imported before anything from Fedify (ES modules evaluate in import order).
//
// Interop: Fedify 2.3 declares node >= 22 and reads the global `navigator`
// (`navigator?.userAgent`), which Node 20 does not define, so the bare
// identifier throws a ReferenceError.  Define a minimal one.
globalThis.navigator ??= { userAgent: "node" };

// Every outgoing HTTP request Fedify makes goes through globalThis.fetch.
// Wrap it so the peer can report which signature spec it used on each knock
// and what the other side answered (visible in /control/events).
const listeners = [];
export function onOutgoing(fn) {
  listeners.push(fn);
}

export function signatureSpecOf(headers) {
  if (headers.has("signature-input")) return "rfc9421";
  if (headers.has("signature")) return "draft-cavage-http-signatures-12";
  return "unsigned";
}

const originalFetch = globalThis.fetch;
globalThis.fetch = async function wrappedFetch(input, init) {
  const request = new Request(input, init);
  const record = {
    method: request.method,
    url: request.url,
    spec: signatureSpecOf(request.headers),
  };
  try {
    const response = await originalFetch(request);
    record.status = response.status;
    for (const fn of listeners) fn(record);
    return response;
  } catch (error) {
    record.error = String(error?.cause ?? error);
    for (const fn of listeners) fn(record);
    throw error;
  }
};

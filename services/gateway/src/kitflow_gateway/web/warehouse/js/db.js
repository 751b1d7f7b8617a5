// The browser's own store (IndexedDB): `queue` holds the movements recorded here, in the order
// they were saved (an auto-incremented `seq`), until the server has them; `kept` holds what was
// last seen (the session, the catalogue, each warehouse's stock) so the app opens offline.

const NAME = "kitflow-warehouse";
const VERSION = 1;
let opened = null;

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function database() {
  if (!opened) {
    const req = indexedDB.open(NAME, VERSION);
    req.onupgradeneeded = () => {
      req.result.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
      req.result.createObjectStore("kept");
    };
    opened = request(req);
  }
  return opened;
}

async function store(name, mode) {
  return (await database()).transaction(name, mode).objectStore(name);
}

export async function keep(key, value) {
  await request((await store("kept", "readwrite")).put(value, key));
}

export async function kept(key) {
  return request((await store("kept", "readonly")).get(key));
}

export async function forget(key) {
  await request((await store("kept", "readwrite")).delete(key));
}

// A new record gets its place in the queue; a changed one keeps it.
export async function putRecord(record) {
  const seq = await request((await store("queue", "readwrite")).put(record));
  return { ...record, seq };
}

export async function record(seq) {
  return request((await store("queue", "readonly")).get(seq));
}

export async function records() {
  return request((await store("queue", "readonly")).getAll());
}

export async function deleteRecord(seq) {
  await request((await store("queue", "readwrite")).delete(seq));
}

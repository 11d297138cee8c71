// The playground at / (inference/api/web_ui.py): builds a request from the form, sends it to this server, shows the
// response and code for the same request, and a view of the answer that follows the served model's kind (GET
// /info): a cosine-similarity heatmap (embeddings), score bars (rerank), token chips with their vectors and a MaxSim
// ranking (multi-vector), label bars (classify), top-weight bars (sparse), and for every kind the tokenizer's tokens
// and segments. A server of several models (/info's "models") gets a model picker: the tabs are those of every served
// model's kind, and each request names the chosen model (the body's "model", or the X-Model header for a body
// without that field: TEI's).
// The page's CSP allows this file only: no inline script or style attribute, and the DOM is built with
// createElement/textContent, never innerHTML, so neither the response nor the inputs can inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const TYPES = ["float", "base64", "binary", "ubinary", "int8", "uint8"];
const KEY_STORE = "emb-playground-api-key"; // sessionStorage: gone when the tab closes
const EXAMPLES = [
  "A man is playing a guitar on stage.",
  "Ein Mann spielt auf der Bühne Gitarre.",
  "Un homme joue de la guitare sur scène.",
  "The weather is lovely today, perfect for a walk in the park.",
  "今天天气很好，适合去公园散步。",
  "今日は天気が良いので、公園を散歩しましょう。",
  "El precio de la vivienda subió un cinco por ciento el año pasado.",
];
const RERANK_EXAMPLE = {
  query: "What is the capital of France?",
  documents: ["Paris is the capital and largest city of France.", "Berlin is the capital of Germany.",
    "La capitale de la France est Paris.", "The Eiffel Tower is in Paris.", "Bananas are rich in potassium."],
};
const CLASSIFY_EXAMPLES = [
  "The team won the championship after a dramatic final.",
  "Parliament passed the new budget late last night.",
  "The telescope captured images of a distant galaxy.",
  "Our flight to Lisbon leaves early tomorrow morning.",
];
const ZERO_SHOT_LABELS = ["music", "weather", "economy", "sports"];
const TOKENIZE_EXAMPLE = "Tokenizers cut text into pieces: words, sub-words and punctuation. Rare words like " +
  "\"detokenization\" become several tokens, and so do Bühne, 東京 and 🙂.\n\nA long text is cut into chunks at " +
  "paragraph, line and sentence ends. Each chunk fits the model, and the chunks joined are the text.";
const PALETTE = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];
// What the page can run, by mode: the route, the view that shows the answer, the view's title and first note.
const MODES = {
  embed: { label: "Embed", view: "heatmap", title: "Similarity",
    note: "Run to see the cosine similarity of the inputs." },
  rerank: { label: "Rerank", view: "bars", title: "Relevance", note: "Run to rank the documents." },
  multivector: { label: "Token vectors", view: "vectors", title: "Token vectors",
    note: "Run to see one vector per token." },
  maxsim: { label: "MaxSim rerank", view: "ranking", title: "MaxSim ranking",
    note: "Run to rank the documents by MaxSim against the query." },
  classify: { label: "Classify", view: "labels", title: "Labels", note: "Run to score each input's labels." },
  sparse: { label: "Sparse", view: "sparse", title: "Sparse vectors",
    note: "Run to see each input's largest vocabulary weights." },
  tokenize: { label: "Tokenize", view: "tokens", title: "Tokens",
    note: "Run to see the text as the model's tokenizer cuts it." },
};
const VIEWS = ["heatmap", "bars", "vectors", "ranking", "labels", "sparse", "tokens"];
// the modes of each kind of model (GET /info "kind"), the first one shown at load
const KIND_MODES = {
  embed: ["embed", "classify", "tokenize"],
  rerank: ["rerank", "tokenize"],
  multivector: ["multivector", "maxsim", "tokenize"],
  classify: ["classify", "tokenize"],
  sparse: ["sparse", "tokenize"],
};
const ENDPOINT_NAMES = { embed: "my-embeddings", rerank: "my-reranker", multivector: "my-multivector",
  classify: "my-classifier", sparse: "my-splade" };
// the paths whose bodies name their model in a "model" field; the others (TEI's bodies) send the X-Model header
const BODY_MODEL = ["/v1/embeddings", "/v1/rerank", "/v1/multi-vector", "/v1/classify"];
const SPARSE_TOP = 20; // the entries shown per input, largest first
const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/; // Python's string.punctuation: late-interaction skip lists' default

let info = null; // the chosen model's /info entry
let served = []; // every served model's /info entry, in the server's order
let mode = "embed";
let rawResponse = "";
let chart = null; // what the chart canvas shows, to redraw on resize and answer the tooltip

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") node.className = value;
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

const isRerank = () => info !== null && info.kind === "rerank";
const several = () => served.length > 1; // one model: the page as it always was, no picker, no model named
const modesOf = (model) => KIND_MODES[model.kind] || ["embed", "tokenize"];
const runsOn = (name) => (modesOf(info).includes(name) ? info : served.find((m) => modesOf(m).includes(name)));
// The X-Model header of a request whose body has no "model" field, on a server of several models.
const modelHeader = (body) => (several() && !(body && typeof body === "object" && "model" in body)
  ? { "X-Model": info.model } : {});
const ranked = () => mode === "rerank" || mode === "maxsim"; // a query and documents
const zeroShot = () => info !== null && info.kind !== "classify"; // an embedding model classifies zero-shot
const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const errorText = (body) => (body && body.error ? `${body.error.type}: ${body.error.message}` : "");
const fixed = (value, digits = 4) => (typeof value === "number" ? value.toFixed(digits) : String(value));

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

// A failed answer, shown as the page shows the first request's: HTTP status and the JSON error's type and message.
class HttpError extends Error {}

function headers(body) {
  const result = { "Content-Type": "application/json", Accept: "application/json", ...modelHeader(body) };
  const key = $("api-key").value.trim();
  if (key) result.Authorization = `Bearer ${key}`;
  return result;
}

async function post(path, body) {
  const reply = await fetch(path, { method: "POST", headers: headers(body), body: JSON.stringify(body) });
  const text = await reply.text();
  let data = null;
  try { data = JSON.parse(text); } catch { /* not JSON: shown as text */ }
  return { ok: reply.ok, status: reply.status, statusText: reply.statusText, text, data };
}

const failure = (reply) =>
  `HTTP ${reply.status}: ${errorText(reply.data) || clip(reply.text, 300) || reply.statusText}`;

async function postOk(path, body) {
  const reply = await post(path, body);
  if (!reply.ok) throw new HttpError(`${path}: ${failure(reply)}`);
  return reply.data;
}

// ---- model info -------------------------------------------------------------------------------------------------
async function loadInfo() {
  let reply, body;
  try {
    reply = await fetch("/info", { headers: { Accept: "application/json" } });
    body = await reply.json().catch(() => null);
  } catch (err) {
    $("status").textContent = `Server unreachable (${err.message}); retrying…`;
    setTimeout(loadInfo, 2000);
    return;
  }
  if (reply.status === 503) {
    $("status").textContent = `Model loading: ${errorText(body) || "not ready yet"}; retrying…`;
    setTimeout(loadInfo, 2000);
    return;
  }
  if (!reply.ok) {
    $("status").textContent = "";
    showError(`HTTP ${reply.status}: ${errorText(body) || "could not read /info"}`);
    return;
  }
  served = Array.isArray(body.models) && body.models.length ? body.models : [body];
  info = served[0]; // the first model: /info's top level
  $("status").textContent = "";
  setup();
}

function setup() {
  $("model-select").replaceChildren(...served.map((model, i) =>
    el("option", { value: String(i) }, `${model.model} (${model.kind})`)));
  $("model-select").addEventListener("change", () => chooseModel(served[Number($("model-select").value)]));
  $("model-picker").hidden = !several();
  $("tokenize-text").value = TOKENIZE_EXAMPLE;
  $("labels-text").value = ZERO_SHOT_LABELS.join("\n");
  $("api-key-row").hidden = !info.api_key_required;
  $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
  $("run").disabled = false;
  setupModel();
  applyMode(modesOf(info)[0]);
}

// Every served model's modes, in the models' order, tokenize last; a tab the chosen model cannot run switches to
// the first model that can.
function showModes() {
  const names = [...new Set(served.flatMap(modesOf))];
  const all = [...names.filter((name) => name !== "tokenize"), ...names.filter((name) => name === "tokenize")];
  $("modes").replaceChildren(...all.map((name) => {
    const model = runsOn(name);
    const label = name === "classify" && model.kind !== "classify" ? "Classify (zero-shot)" : MODES[name].label;
    const tab = el("button", { type: "button", role: "tab", id: `mode-${name}`, "aria-selected": "false" }, label);
    tab.dataset.mode = name;
    if (several()) tab.title = `runs on ${model.model}`;
    tab.addEventListener("click", () => (model === info ? applyMode(name) : chooseModel(model, name)));
    return tab;
  }));
  $("modes").hidden = false;
}

// The picker's choice (or a tab's): the model's facts and options, its examples where its kind wants others, and
// the mode (the same one where the model runs it, else the model's first).
function chooseModel(model, name = mode) {
  info = model;
  $("model-select").value = String(served.indexOf(model));
  setupModel();
  applyMode(modesOf(model).includes(name) ? name : modesOf(model)[0]);
}

// What the page shows of the chosen model (info): header facts, tabs, examples and the options it offers.
function setupModel() {
  const kind = info.kind;
  const tasks = info.tasks || [], labels = info.labels || [], modalities = info.modalities || ["text"];
  const options = (info.dimension_options || []).filter((d) => d !== info.dimensions);
  const vectors = kind === "embed" || kind === "multivector"; // a reranker's "dimensions" (one score) say nothing
  $("model-name").textContent = info.model;
  const facts = [["kind", kind],
    ["dimensions", vectors ? `${info.dimensions}${options.length ? ` (or ${options.join(", ")})` : ""}` : null],
    ["query length", kind === "multivector" && info.query_length ? `${info.query_length} tokens` : null],
    ["labels", kind === "classify" ? labels.join(", ") : null],
    ["vocabulary", kind === "sparse" ? `${info.dimensions} entries` : null],
    ["max length", `${info.max_length} tokens`], ["tasks", tasks.length ? tasks.join(", ") : "none"],
    ["modalities", modalities.join(", ")], ["pooling", kind === "embed" ? info.pooling : null],
    ["scoring", kind === "multivector" ? "MaxSim" : null],
    ["device", `${info.device} · ${info.dtype}`]];
  $("model-facts").replaceChildren(...facts.filter(([, v]) => v != null)
    .map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, String(v)))));

  showModes();

  // the examples of the kind; kept (with the user's edits) when the new model wants the same ones
  const ranking = kind === "rerank" || kind === "multivector";
  const examples = ranking ? "ranking" : kind === "classify" ? "classify" : "inputs";
  const images = kind === "embed" && info.modalities.includes("image");
  if ($("inputs").dataset.examples !== `${examples} ${images}`) {
    $("inputs").dataset.examples = `${examples} ${images}`;
    $("inputs").replaceChildren();
    if (ranking) $("query").value = RERANK_EXAMPLE.query;
    (ranking ? RERANK_EXAMPLE.documents : kind === "classify" ? CLASSIFY_EXAMPLES : EXAMPLES)
      .forEach((text) => addInput(text));
  }
  $("dimensions").max = info.dimensions || "";
  $("task").replaceChildren(el("option", { value: "" }, "none"), ...tasks.map((t) => el("option", { value: t }, t)));
  $("task-row").hidden = !tasks.length;
  $("prompt-name").replaceChildren(el("option", { value: "" }, "model's default"),
    ...tasks.map((t) => el("option", { value: t }, t)));
  $("prompt-name-row").hidden = !tasks.length;
  $("mv-dimensions").replaceChildren(...[info.dimensions, ...options]
    .map((d) => el("option", { value: String(d) }, String(d))));
  const legend = $("model-labels").querySelector("legend");
  $("model-labels").replaceChildren(legend, ...labels.map((label) => el("label", { class: "check" },
    el("input", { type: "checkbox", class: "model-label", value: label, checked: true }), ` ${label}`)));
  $("model-labels").hidden = !labels.length || kind !== "classify";
  $("labels-row").hidden = kind === "classify";
}

// Show what the mode needs (inputs, options, the view of its answer) and clear the last answer.
function applyMode(name) {
  mode = name;
  for (const tab of $("modes").children) tab.setAttribute("aria-selected", String(tab.dataset.mode === name));
  const spec = MODES[name], tokenize = name === "tokenize";
  $("inputs").hidden = $("add-input").hidden = tokenize;
  $("text-row").hidden = !tokenize;
  $("query-row").hidden = !ranked();
  $("inputs-title").textContent = tokenize ? "Text" : ranked() ? "Query and documents" : "Inputs";
  $("add-input").textContent = ranked() ? "+ Add document" : "+ Add input";
  $("common-options").hidden = name === "classify" || tokenize;
  $("normalized-row").hidden = name !== "embed" && name !== "multivector";
  $("late-chunking-row").hidden = name !== "embed" || !info.late_chunking;
  $("return-documents-row").hidden = !ranked();
  $("embed-options").hidden = name !== "embed";
  $("rerank-options").hidden = !ranked();
  $("multivector-options").hidden = name !== "multivector";
  $("classify-options").hidden = name !== "classify";
  $("sparse-options").hidden = name !== "sparse" || $("prompt-name-row").hidden;
  $("tokenize-options").hidden = !tokenize;
  $("segment-panel").hidden = !tokenize;
  for (const view of VIEWS) {
    $(view).hidden = view !== spec.view;
    $(view).dataset.ready = "false";
    if ($(view).getContext) { // a canvas: blank until the next run draws it
      $(view).width = $(view).height = 0;
      $(view).style.width = $(view).style.height = "";
    } else {
      $(view).replaceChildren();
    }
  }
  $("segments").replaceChildren();
  $("segments").dataset.ready = "false";
  chart = null;
  $("chart-title").textContent = spec.title;
  $("chart-note").textContent = spec.note;
  $("response").textContent = "";
  rawResponse = "";
  $("copy-response").disabled = $("download-response").disabled = true;
  $("usage").textContent = $("latency").textContent = "";
  showError("");
  updateSnippets();
}

// ---- inputs -----------------------------------------------------------------------------------------------------
const items = () => Array.from($("inputs").querySelectorAll(".input-item"));
const texts = () => items().map((i) => i.querySelector(".input-text").value);

function addInput(text = "") {
  const area = el("textarea", { class: "input-text", rows: 2, spellcheck: false, value: text });
  const remove = el("button", { type: "button", class: "icon", title: "Remove", "aria-label": "Remove" }, "×");
  const item = el("div", { class: "input-item" }, el("span", { class: "input-index" }), area);
  remove.addEventListener("click", () => { item.remove(); renumber(); updateSnippets(); });
  if (info.kind === "embed" && info.modalities.includes("image")) {
    const file = el("input", { type: "file", accept: "image/*", class: "file" });
    const thumb = el("img", { class: "thumb", alt: "image input", hidden: true });
    const clear = el("button", { type: "button", class: "icon", title: "Remove image", hidden: true }, "⌫");
    const setImage = (uri) => {
      item.image = uri;
      thumb.src = uri || "";
      thumb.hidden = clear.hidden = !uri;
      area.hidden = Boolean(uri);
      if (!uri) file.value = "";
      updateSnippets();
    };
    const read = (blob) => {
      const reader = new FileReader();
      reader.addEventListener("load", () => setImage(reader.result));
      reader.readAsDataURL(blob);
    };
    file.addEventListener("change", () => file.files[0] && read(file.files[0]));
    area.addEventListener("paste", (event) => {
      const pasted = Array.from(event.clipboardData.items);
      const image = pasted.find((i) => i.kind === "file" && i.type.startsWith("image/"));
      if (image) { event.preventDefault(); read(image.getAsFile()); }
    });
    clear.addEventListener("click", () => setImage(null));
    const pick = el("label", { class: "pick", title: "Upload an image (or paste one into the text)" }, "Image", file);
    item.append(thumb, pick, clear);
  }
  item.append(remove);
  $("inputs").append(item);
  renumber();
  return area;
}

function renumber() {
  const all = items();
  all.forEach((item, i) => {
    item.querySelector(".input-index").textContent = String(i + 1);
    item.querySelector("button[title=Remove]").disabled = all.length === 1;
  });
}

// ---- the request ------------------------------------------------------------------------------------------------
// The form's request; on a server of several models, a body with a "model" field names the chosen model in it.
function buildRequest() {
  const request = formRequest();
  if (several() && BODY_MODEL.includes(request.path)) request.body = { model: info.model, ...request.body };
  return request;
}

function formRequest() {
  const number = (id) => ($(id).value.trim() === "" ? undefined : Number($(id).value));
  const inputs = () => items().map((i) => (i.image ? { image: i.image } : i.querySelector(".input-text").value));
  if (ranked()) {
    const body = { query: $("query").value, documents: texts() };
    if (number("top-n") !== undefined) body.top_n = number("top-n");
    body.return_documents = $("return-documents").checked;
    body.truncate = $("truncate").checked;
    return { path: "/v1/rerank", body };
  }
  if (mode === "tokenize") {
    return { path: "/tokenize", body: { inputs: $("tokenize-text").value,
      add_special_tokens: $("add-special-tokens").checked } };
  }
  if (mode === "multivector") {
    const body = { input: texts(), input_type: $("input-type").value };
    const width = Number($("mv-dimensions").value);
    if (width && width !== info.dimensions) body.dimensions = width;
    body.normalized = $("normalized").checked;
    body.truncate = $("truncate").checked;
    return { path: "/v1/multi-vector", body };
  }
  if (mode === "sparse") {
    const body = { inputs: texts(), truncate: $("truncate").checked };
    if ($("prompt-name").value) body.prompt_name = $("prompt-name").value;
    return { path: "/embed_sparse", body };
  }
  if (mode === "classify") {
    const body = { input: inputs() };
    if (zeroShot()) {
      body.labels = $("labels-text").value.split("\n").map((l) => l.trim()).filter(Boolean);
    } else {
      const boxes = Array.from($("model-labels").querySelectorAll(".model-label"));
      const chosen = boxes.filter((box) => box.checked).map((box) => box.value);
      if (chosen.length !== boxes.length) body.labels = chosen; // all of them: the field left out
    }
    return { path: "/v1/classify", body };
  }
  const types = TYPES.filter((t) => $(`type-${t}`).checked);
  const body = {
    input: inputs(),
    model: info.model,
    normalized: $("normalized").checked,
    embedding_type: types.length === 1 ? types[0] : types,
  };
  if (number("dimensions") !== undefined) body.dimensions = number("dimensions");
  if ($("task").value) body.task = $("task").value;
  body.truncate = $("truncate").checked;
  if (info.late_chunking && $("late-chunking").checked) body.late_chunking = true;
  return { path: "/v1/embeddings", body };
}

async function run() {
  const request = buildRequest();
  const ran = mode, view = $(MODES[ran].view);
  showError("");
  view.dataset.ready = "false";
  $("run").disabled = true;
  $("run").textContent = "Running…";
  const started = performance.now();
  try {
    const reply = await post(request.path, request.body);
    $("latency").textContent = `${Math.round(performance.now() - started)} ms`;
    if (!reply.ok) {
      showError(failure(reply));
      return;
    }
    const data = reply.data;
    window.lastRequest = request.body;
    window.lastResponse = data;
    rawResponse = reply.text;
    $("response").textContent = pretty(data);
    $("copy-response").disabled = $("download-response").disabled = false;
    showUsage(data);
    if (ran === "embed") similarity(data.data, request.body);
    else if (ran === "rerank") drawBars(data.results, request.body.documents);
    else if (ran === "maxsim") showRanking(data.results, request.body);
    else if (ran === "classify") showLabels(data.data, request.body);
    else if (ran === "multivector") await showVectors(data, request.body);
    else if (ran === "sparse") await showSparse(data, request.body);
    else await showTokens(data[0], request.body);
  } catch (err) {
    showError(err instanceof HttpError ? err.message : `Request failed: ${err.message}`);
  } finally {
    $("run").disabled = false;
    $("run").textContent = "Run";
  }
}

function showUsage(data) {
  if (mode === "sparse") { // TEI's sparse answer carries no usage: the nonzero entries instead
    $("usage").textContent = `${data.reduce((sum, entries) => sum + entries.length, 0)} nonzero entries`;
    return;
  }
  if (Array.isArray(data)) { // /tokenize: one list of tokens per input
    $("usage").textContent = `${data.reduce((sum, tokens) => sum + tokens.length, 0)} tokens`;
    return;
  }
  const usage = data.usage || {};
  const prompt = usage.prompt_tokens;
  $("usage").textContent = usage.total_tokens === undefined ? "" : `${usage.total_tokens} tokens` +
    (prompt !== undefined && prompt !== usage.total_tokens ? ` (prompt ${prompt})` : "");
}

// ---- token views ------------------------------------------------------------------------------------------------
// One chip per token: its text (what it covers of the input; a special token's own text), its id below, the rest on
// hover. Whitespace between two tokens' offsets widens the gap; a line break in it starts a new line.
function tokenChip(token, index) {
  const span = token.start === null || token.start === undefined ? "no characters (added by the tokenizer)"
    : `chars ${token.start}–${token.stop}`;
  const chip = el("span", { class: token.special ? "tok special" : "tok",
    title: `token ${index + 1} · id ${token.id} · ${span}${token.special ? " · special" : ""}` },
  el("span", { class: "tok-text" }, visible(token.text)), el("span", { class: "tok-id" }, String(token.id)));
  chip.dataset.id = String(token.id);
  chip.dataset.index = String(index);
  chip.dataset.text = token.text;
  chip.dataset.special = String(Boolean(token.special));
  return chip;
}

const visible = (text) => (text === "" ? "∅" : text.replace(/\n/g, "↵").replace(/\t/g, "⇥"));

function tokenRow(tokens, text, chipOf) {
  const points = Array.from(text); // offsets count code points, not UTF-16 units
  const row = el("div", { class: "tokens" });
  let last = 0;
  tokens.forEach((token, i) => {
    const chip = chipOf(token, i);
    if (token.start !== null && token.start !== undefined) {
      const gap = points.slice(last, token.start).join("");
      if (gap.includes("\n")) row.append(el("span", { class: "tok-break" }));
      else if (/\s/.test(gap)) chip.classList.add("after-space");
      last = Math.max(last, token.stop);
    }
    row.append(chip);
  });
  return row;
}

async function showTokens(tokens, body) {
  const text = body.inputs;
  const segmentBody = { content: text, return_chunks: true, return_tokens: true };
  const budget = $("max-chunk-length").value.trim();
  if (budget !== "") segmentBody.max_chunk_length = Number(budget);
  const segmented = postOk("/v1/segment", segmentBody); // in parallel with /decode
  const special = tokens.filter((t) => t.special).length;
  const ids = tokens.map((t) => t.id);
  const decoded = tokens.length ? (await postOk("/decode", { ids, skip_special_tokens: true }))[0] : "";
  window.lastTokens = tokens;
  const summary = el("p", { class: "summary", id: "token-count" },
    `${tokens.length} tokens (${special} special) · ${Array.from(text).length} characters`);
  const decode = el("p", { class: "note decoded" }, "POST /decode of these ids (skip_special_tokens): ",
    el("q", { id: "decoded" }, decoded));
  $("tokens").replaceChildren(summary, tokenRow(tokens, text, tokenChip), decode);
  $("chart-note").textContent = "Each chip is one token: its text, its id below (hover for its character offsets)." +
    " Special tokens (added by the tokenizer, or a special token written in the text) are marked.";
  const segments = await segmented;
  showSegments(segments, text);
  $("tokens").dataset.ready = "true";
}

function showSegments(answer, text) {
  window.lastSegment = answer;
  const chunks = answer.chunks || [], positions = answer.chunk_positions || [], tokens = answer.tokens || [];
  $("segment-note").textContent = `${answer.num_tokens} tokens (without special tokens) in ${answer.num_chunks}` +
    ` chunk${answer.num_chunks === 1 ? "" : "s"} of at most ${$("max-chunk-length").value.trim() || "the model's"}` +
    " tokens (POST /v1/segment), cut at paragraph, line and sentence ends. The chunks joined are the text.";
  $("segments").replaceChildren(...chunks.map((chunk, i) => {
    const count = tokens[i] ? tokens[i].length : null;
    const [start, stop] = positions[i] || [null, null];
    const box = el("div", { class: "chunk" },
      el("div", { class: "chunk-head" }, el("strong", {}, `chunk ${i + 1}`),
        el("span", { class: "chunk-tokens" }, count === null ? "" : `${count} tokens`),
        el("span", {}, start === null ? "" : `chars ${start}–${stop}`)),
      el("div", { class: "chunk-text" }, chunk));
    if (count !== null) box.dataset.tokens = String(count);
    return box;
  }));
  if (!chunks.length && !text.trim()) $("segments").append(el("p", { class: "note" }, "No tokens: no chunks."));
  $("segments").dataset.ready = "true";
}

// ---- multi-vector -----------------------------------------------------------------------------------------------
// The token texts of a multi-vector answer, from /tokenize of the same texts with the input type's prompt (the
// model's query or document marker): a query is cut to the query length and padded with expansion tokens; a
// document is cut to the max length and loses its skip-list tokens (punctuation), which have no vector. Where
// that does not give one token per vector (another skip list), the chips are numbered instead.
function alignTokens(tokens, count, inputType) {
  if (!tokens) return null;
  const cut = (list, length) => {
    if (!length || list.length <= length) return list;
    const last = list[list.length - 1];
    return last.special ? [...list.slice(0, length - 1), last] : list.slice(0, length);
  };
  let kept = cut(tokens, inputType === "query" ? info.query_length : info.max_length);
  if (inputType === "query") {
    kept = kept.concat(Array.from({ length: Math.max(0, count - kept.length) },
      () => ({ id: null, text: "[MASK]", special: true, expansion: true })));
  } else {
    kept = kept.filter((t) => t.special || !ASCII_PUNCTUATION.test(t.text));
  }
  return kept.length === count ? kept : null;
}

async function tokenTexts(texts, inputType) {
  let reply = await post("/tokenize", { inputs: texts, add_special_tokens: true, prompt_name: inputType });
  if (!reply.ok) reply = await post("/tokenize", { inputs: texts, add_special_tokens: true }); // no such prompt
  return reply.ok ? reply.data : texts.map(() => null);
}

const norm = (vector) => Math.hypot(...vector);

function strip(vector, scale) {
  const canvas = el("canvas", { class: "strip", width: 48, height: 8 });
  const ctx = canvas.getContext("2d");
  const step = canvas.width / vector.length;
  vector.forEach((value, k) => {
    const t = Math.max(-1, Math.min(1, value / (scale || 1)));
    const strength = Math.round(255 * (1 - Math.abs(t)));
    ctx.fillStyle = t >= 0 ? `rgb(${strength},${Math.round(112 + 143 * (1 - Math.abs(t)))},255)`
      : `rgb(255,${strength},${strength})`;
    ctx.fillRect(k * step, 0, Math.ceil(step), canvas.height);
  });
  return canvas;
}

async function showVectors(answer, body) {
  const inputType = body.input_type || "document";
  const tokenized = await tokenTexts(body.input, inputType);
  let scale = 1e-12; // the largest |value|: the strips' colour scale (a loop: a spread of every value can overflow)
  for (const item of answer.data) {
    for (const vector of item.embeddings) for (const v of vector) scale = Math.max(scale, Math.abs(v));
  }
  let unaligned = 0;
  window.lastNorms = [];
  const blocks = answer.data.map((item) => {
    const vectors = item.embeddings;
    const tokens = alignTokens(tokenized[item.index], vectors.length, inputType);
    if (!tokens) unaligned += 1;
    const norms = vectors.map(norm);
    window.lastNorms[item.index] = norms;
    const chips = vectors.map((vector, k) => {
      const token = tokens ? tokens[k] : { id: null, text: `#${k + 1}`, special: false };
      const first = vector.slice(0, 8).map((v) => v.toFixed(3)).join(", ");
      const what = token.expansion ? "expansion ([MASK]) token" : token.id === null ? "token" : `id ${token.id}`;
      const chip = el("span", { class: `tok vec${token.special ? " special" : ""}`,
        title: `vector ${k + 1} · ${visible(token.text)} · ${what}\nnorm ${norms[k].toFixed(4)}\n` +
          `first values: [${first}${vector.length > 8 ? ", …" : ""}] (${vector.length} dims)` },
      el("span", { class: "tok-text" }, visible(token.text)), strip(vector, scale),
      el("span", { class: "tok-id" }, norms[k].toFixed(3)));
      chip.dataset.index = String(k);
      chip.dataset.text = token.text;
      chip.dataset.norm = String(norms[k]);
      if (token.id !== null) chip.dataset.id = String(token.id);
      return chip;
    });
    const text = body.input[item.index];
    const block = el("div", { class: "mv-input" },
      el("div", { class: "mv-head" }, el("strong", {}, `${item.index + 1}. `), clip(text, 90),
        el("span", { class: "stat" }, ` ${vectors.length} vectors × ${vectors[0] ? vectors[0].length : 0} dims`)),
      el("div", { class: "tokens" }, ...chips));
    block.dataset.count = String(vectors.length);
    return block;
  });
  const q = info.query_length;
  $("chart-note").textContent = (inputType === "query"
    ? `A query has one vector per token: its marker, its text, and [MASK] expansion tokens up to the query length` +
      `${q ? ` (${q})` : ""}.`
    : "A document has one vector per token, except punctuation: the model's skip list leaves punctuation out of " +
      "a document's vectors, so those tokens have no chip here (a query keeps them).") +
    " Each chip: the token, its values as a strip (blue positive, red negative), and its norm below; hover for " +
    "the first values." + (unaligned ? " Token texts could not be matched to the vectors: chips are numbered." : "");
  $("vectors").replaceChildren(...blocks);
  $("vectors").dataset.ready = "true";
}

function showRanking(results, body) {
  const scores = results.map((r) => r.relevance_score);
  const hi = Math.max(...scores, 1e-12), lo = Math.min(0, ...scores);
  const rows = results.map((r, k) => {
    const fill = el("span", { class: "fill" });
    fill.style.width = `${Math.max(0.5, (100 * (r.relevance_score - lo)) / (hi - lo || 1))}%`;
    const text = body.documents[r.index] ?? "";
    const row = el("li", { class: k === 0 ? "rank-row best" : "rank-row" },
      el("span", { class: "rank-doc" }, `#${r.index + 1}`),
      el("span", { class: "rank-text", title: text }, clip(text, 120)),
      el("span", { class: "bar" }, fill), el("span", { class: "rank-score" }, fixed(r.relevance_score)));
    row.dataset.index = String(r.index);
    row.dataset.score = String(r.relevance_score);
    return row;
  });
  const q = info.query_length;
  $("chart-note").textContent = "Documents by MaxSim score, highest first: for each of the query's token vectors" +
    `${q ? ` (${q}, its expansion tokens included)` : ""}, its best dot product with any of the document's token` +
    " vectors, summed. The score grows with the query length; it is not a probability.";
  $("ranking").replaceChildren(el("p", { class: "summary" }, "Query: ", el("q", {}, body.query)),
    el("ol", { class: "ranking" }, ...rows));
  $("ranking").dataset.ready = "true";
}

// ---- classify ---------------------------------------------------------------------------------------------------
function showLabels(data, body) {
  let lo = 0, hi = 1; // [0, 1] for probabilities, wider for raw scores
  for (const item of data) for (const p of item.predictions) { lo = Math.min(lo, p.score); hi = Math.max(hi, p.score); }
  const blocks = data.map((item) => {
    const input = body.input[item.index];
    const rows = item.predictions.map((p) => {
      const fill = el("span", { class: "fill" });
      fill.style.width = `${Math.max(0, (100 * (p.score - lo)) / (hi - lo))}%`;
      const row = el("div", { class: p.label === item.prediction ? "label-row predicted" : "label-row" },
        el("span", { class: "label-name" }, p.label), el("span", { class: "bar" }, fill),
        el("span", { class: "label-score" }, fixed(p.score)));
      row.dataset.label = p.label;
      row.dataset.score = String(p.score);
      return row;
    });
    const block = el("div", { class: "cls-input" },
      el("div", { class: "mv-head" }, el("strong", {}, `${item.index + 1}. `),
        typeof input === "string" ? clip(input, 90) : "[image]",
        el("span", { class: "prediction" }, ` → ${item.prediction} (${fixed(item.score)})`)), ...rows);
    block.dataset.prediction = item.prediction;
    return block;
  });
  $("chart-note").textContent = zeroShot()
    ? "Zero-shot: softmax over the labels of the scaled cosine similarity of each input's and each label's " +
      "embeddings. The prediction is highlighted."
    : "The model's score of each label (its own activation: softmax, or sigmoid for multi-label models, where " +
      "scores do not sum to 1). The prediction is highlighted.";
  $("labels").replaceChildren(...blocks);
  $("labels").dataset.ready = "true";
}

// ---- sparse -----------------------------------------------------------------------------------------------------
// Each input's largest entries: the vocabulary entry's text (POST /decode of its id; the id where that fails) and
// its weight as a bar (scaled to the largest weight shown), and the count of nonzero entries.
async function showSparse(data, body) {
  const tops = data.map((entries) => [...entries].sort((a, b) => b.value - a.value).slice(0, SPARSE_TOP));
  const ids = [...new Set(tops.flat().map((entry) => entry.index))];
  const reply = ids.length ? await post("/decode", { ids: ids.map((id) => [id]), skip_special_tokens: false })
    : { ok: true, data: [] };
  const names = new Map(reply.ok ? ids.map((id, k) => [id, reply.data[k]]) : []);
  const hi = Math.max(0, ...tops.flat().map((entry) => entry.value)) || 1;
  const blocks = tops.map((top, i) => {
    const rows = top.map((entry) => {
      const fill = el("span", { class: "fill" });
      fill.style.width = `${(100 * entry.value) / hi}%`;
      const text = names.get(entry.index);
      const row = el("div", { class: "label-row sparse-row" },
        el("span", { class: "label-name", title: `id ${entry.index}` },
          text === undefined || text === "" ? `#${entry.index}` : text),
        el("span", { class: "bar" }, fill), el("span", { class: "label-score" }, fixed(entry.value)));
      row.dataset.index = String(entry.index);
      row.dataset.value = String(entry.value);
      if (text !== undefined) row.dataset.token = text;
      return row;
    });
    const block = el("div", { class: "cls-input sparse-input" },
      el("div", { class: "mv-head" }, el("strong", {}, `${i + 1}. `), clip(body.inputs[i], 90),
        el("span", { class: "nonzero" }, ` · ${data[i].length} nonzero of ${info.dimensions}`)), ...rows);
    block.dataset.nonzero = String(data[i].length);
    return block;
  });
  $("chart-note").textContent = `Each input's ${SPARSE_TOP} largest weights (of its nonzero vocabulary entries), ` +
    "the token of each entry from POST /decode; bars are scaled to the largest weight shown.";
  $("sparse").replaceChildren(...blocks);
  $("sparse").dataset.ready = "true";
}

// The response for reading: vectors and long strings cut (the raw response is what Copy and Download give).
function pretty(value, pad = "") {
  const inner = `${pad}  `;
  if (Array.isArray(value)) {
    if (value.length && value.every((v) => typeof v === "number")) {
      const head = value.slice(0, 8).join(", ");
      return value.length > 8 ? `[${head}, … (${value.length} values)]` : `[${head}]`;
    }
    if (!value.length) return "[]";
    return `[\n${value.map((v) => inner + pretty(v, inner)).join(",\n")}\n${pad}]`;
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (!entries.length) return "{}";
    return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${pretty(v, inner)}`).join(",\n")}\n${pad}}`;
  }
  if (typeof value === "string" && value.length > 96) {
    return `${JSON.stringify(value.slice(0, 48))}… (${value.length} chars)`;
  }
  return JSON.stringify(value);
}

// ---- charts -----------------------------------------------------------------------------------------------------
function decodeBase64(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

function floatVector(embedding, type) {
  if (typeof type === "string") {
    return type === "float" ? embedding : type === "base64" ? decodeBase64(embedding) : null;
  }
  if (embedding.float) return embedding.float;
  return embedding.base64 ? decodeBase64(embedding.base64) : null;
}

function similarity(data, body) {
  const vectors = data.map((d) => floatVector(d.embedding, body.embedding_type));
  const canvas = $("heatmap");
  if (vectors.some((v) => !v)) {
    chart = null;
    canvas.width = canvas.height = 0;
    $("chart-note").textContent = "The heatmap needs float or base64 vectors: add one of them to embedding_type.";
    return;
  }
  const norms = vectors.map((v) => Math.hypot(...v) || 1);
  const dot = (a, b) => a.reduce((sum, x, k) => sum + x * b[k], 0);
  const matrix = vectors.map((a, i) => vectors.map((b, j) => dot(a, b) / (norms[i] * norms[j])));
  window.lastSimilarity = matrix;
  const labels = body.input.map((x) => (typeof x === "string" ? x : "[image]"));
  chart = { kind: "heatmap", matrix, labels };
  $("chart-note").textContent = "Cosine similarity of the returned vectors (hover a cell for the pair).";
  drawChart();
}

function drawBars(results, documents) {
  chart = { kind: "bars", results, labels: documents };
  $("chart-note").textContent = "Relevance score of each document, best first (hover a bar for the document).";
  drawChart();
}

function color(t) {
  const x = Math.max(0, Math.min(1, t)) * (PALETTE.length - 1);
  const i = Math.min(PALETTE.length - 2, Math.floor(x));
  const rgb = PALETTE[i].map((c, k) => Math.round(c + (PALETTE[i + 1][k] - c) * (x - i)));
  return `rgb(${rgb.join(",")})`;
}

function prepare(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.font = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  ctx.textBaseline = "middle";
  return ctx;
}

function drawChart() {
  if (!chart) return;
  const avail = Math.max(280, $("heatmap").parentElement.clientWidth - 4);
  if (chart.kind === "heatmap") drawHeatmap(avail);
  else drawBarChart(avail);
}

function drawHeatmap(avail) {
  const { matrix, labels } = chart;
  const n = matrix.length, left = Math.min(180, avail * 0.35), top = 22;
  const cell = Math.max(18, Math.min(64, Math.floor((avail - left) / n)));
  const lo = Math.min(0, ...matrix.flat()), hi = 1, scale = (v) => (v - lo) / (hi - lo || 1);
  const canvas = $("heatmap");
  const ctx = prepare(canvas, left + n * cell, top + n * cell + 52);
  ctx.fillStyle = "#1f2933";
  ctx.textAlign = "right";
  const chars = Math.floor(left / 7.5) - 4;
  labels.forEach((text, i) => ctx.fillText(`${clip(text, chars)} ${i + 1}`, left - 6, top + (i + 0.5) * cell));
  ctx.textAlign = "center";
  labels.forEach((_, j) => ctx.fillText(String(j + 1), left + (j + 0.5) * cell, top / 2));
  matrix.forEach((row, i) => row.forEach((v, j) => {
    ctx.fillStyle = color(scale(v));
    ctx.fillRect(left + j * cell, top + i * cell, cell - 1, cell - 1);
    if (cell >= 34) {
      ctx.fillStyle = scale(v) > 0.55 ? "#fff" : "#1f2933";
      ctx.fillText(v.toFixed(2), left + (j + 0.5) * cell, top + (i + 0.5) * cell);
    }
  }));
  const y = top + n * cell + 14, width = Math.min(240, n * cell);
  const gradient = ctx.createLinearGradient(left, 0, left + width, 0);
  PALETTE.forEach((c, k) => gradient.addColorStop(k / (PALETTE.length - 1), `rgb(${c.join(",")})`));
  ctx.fillStyle = gradient;
  ctx.fillRect(left, y, width, 12);
  ctx.fillStyle = "#52606d";
  ctx.textAlign = "left";
  ctx.fillText(lo.toFixed(2), left, y + 26);
  ctx.textAlign = "right";
  ctx.fillText(`${hi.toFixed(2)} cosine`, left + width, y + 26);
  chart.hit = (x, yy) => {
    const i = Math.floor((yy - top) / cell), j = Math.floor((x - left) / cell);
    if (x < left || yy < top || i >= n || j >= n) return null;
    const pair = `${i + 1} ↔ ${j + 1}: ${matrix[i][j].toFixed(4)}`;
    return `${pair}\n${i + 1}. ${clip(labels[i], 80)}\n${j + 1}. ${clip(labels[j], 80)}`;
  };
  canvas.dataset.size = String(n);
  canvas.dataset.ready = "true";
}

function drawBarChart(avail) {
  const { results, labels } = chart;
  const scores = results.map((r) => r.relevance_score);
  const left = Math.min(240, avail * 0.4), row = 28, width = avail - left - 60;
  const lo = Math.min(0, ...scores), hi = Math.max(1, ...scores), x0 = left + width * (-lo / (hi - lo));
  const canvas = $("bars");
  const ctx = prepare(canvas, avail, results.length * row + 8);
  results.forEach((r, k) => {
    const y = 4 + k * row, end = left + width * ((r.relevance_score - lo) / (hi - lo));
    ctx.fillStyle = "#1f2933";
    ctx.textAlign = "right";
    ctx.fillText(clip(`${r.index + 1}. ${labels[r.index] ?? ""}`, Math.floor(left / 7)), left - 8, y + row / 2);
    ctx.fillStyle = color(0.35 + 0.65 * (scores.length > 1 ? 1 - k / (scores.length - 1) : 1));
    ctx.fillRect(Math.min(x0, end), y + 4, Math.max(1, Math.abs(end - x0)), row - 8);
    ctx.fillStyle = "#1f2933";
    ctx.textAlign = "left";
    ctx.fillText(r.relevance_score.toFixed(4), Math.max(x0, end) + 6, y + row / 2);
  });
  chart.hit = (x, y) => {
    const r = results[Math.floor((y - 4) / row)];
    return r ? `document ${r.index + 1}: ${r.relevance_score.toFixed(6)}\n${clip(labels[r.index] ?? "", 200)}` : null;
  };
  canvas.dataset.size = String(results.length);
  canvas.dataset.ready = "true";
}

function tooltip(event) {
  const text = chart && chart.hit ? chart.hit(event.offsetX, event.offsetY) : null;
  const tip = $("tooltip");
  tip.hidden = !text;
  if (!text) return;
  tip.textContent = text;
  tip.style.left = `${event.offsetX + 14}px`;
  tip.style.top = `${event.offsetY + 14}px`;
}

// ---- code snippets ----------------------------------------------------------------------------------------------
function py(value, pad = "") {
  const inner = `${pad}    `;
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (Array.isArray(value)) {
    return value.length ? `[\n${value.map((v) => inner + py(v, inner)).join(",\n")},\n${pad}]` : "[]";
  }
  if (typeof value === "object") {
    const entries = Object.entries(value).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${py(v, inner)}`);
    return entries.length ? `{\n${entries.join(",\n")},\n${pad}}` : "{}";
  }
  return JSON.stringify(value); // a JSON string or number is a Python literal too
}

const shellQuote = (text) => `'${text.replace(/'/g, "'\\''")}'`;

function snippets({ path, body }) {
  const origin = location.origin, keys = info.api_key_required, url = origin + path;
  const envKey = 'os.environ["EMB_API_KEY"]', named = modelHeader(body)["X-Model"];
  const pyHeaders = [...(keys ? [`"Authorization": "Bearer " + ${envKey}`] : []),
    ...(named !== undefined ? [`"X-Model": ${JSON.stringify(named)}`] : [])];
  const curl = [`curl -sS ${url} \\`, "  -H 'Content-Type: application/json' \\",
    ...(keys ? ['  -H "Authorization: Bearer $EMB_API_KEY" \\'] : []),
    ...(named !== undefined ? [`  -H ${shellQuote(`X-Model: ${named}`)} \\`] : []),
    // the body on stdin from a quoted here-document: no shell expansion, and no limit on one argument's size
    // (a pasted image's data URI can pass Linux's 128 KiB), and no line of JSON.stringify's output is "JSON"
    "  --data-binary @- <<'JSON'", JSON.stringify(body, null, 2), "JSON"].join("\n");
  const python = [keys ? "import os\n\n" : "", "import requests\n\n", "response = requests.post(\n",
    `    "${url}",\n`,
    pyHeaders.length ? `    headers={${pyHeaders.join(", ")}},\n` : "",
    `    json=${py(body, "    ")},\n`, "    timeout=60,\n)\n", "response.raise_for_status()\n",
    "print(response.json())\n"].join("");
  let openai;
  const foreign = { "/v1/rerank": "rerank", "/v1/multi-vector": "multi-vector", "/v1/classify": "classify",
    "/embed_sparse": "sparse", "/tokenize": "tokenize" }[path];
  if (foreign) {
    openai = `# OpenAI's API has no ${foreign} endpoint, so the OpenAI client cannot call ${path}.\n` +
      "# Use plain HTTP instead, e.g. with requests (the same request as the Python tab):\n\n" + python;
  } else {
    const { input, model, dimensions, embedding_type: type, ...rest } = body;
    const native = typeof type === "string" && (type === "float" || type === "base64");
    const extra = native ? rest : { ...rest, embedding_type: type };
    openai = [keys ? "import os\n\n" : "", "from openai import OpenAI\n\n",
      `client = OpenAI(base_url="${origin}/v1", api_key=${keys ? envKey : '"unused"'})\n`,
      "response = client.embeddings.create(\n", `    model=${py(model)},\n`, `    input=${py(input, "    ")},\n`,
      dimensions !== undefined ? `    dimensions=${dimensions},\n` : "",
      native ? `    encoding_format="${type}",\n` : "",
      `    extra_body=${py(extra, "    ")},  # this server's fields beyond OpenAI's\n)\n`,
      "print(response.usage, [item.embedding for item in response.data])\n"].join("");
  }
  // /invocations (SageMaker) reads the container's own kind of body: not tokenize, nor zero-shot classify
  const invocable = path !== "/tokenize" && !(path === "/v1/classify" && zeroShot());
  if (!invocable) {
    const boto3 = `# SageMaker's /invocations does not answer ${path} requests on this container (it reads the ` +
      `${info.kind} model's own bodies),\n# so boto3's invoke_endpoint cannot send this one. Call ${path} over ` +
      "HTTP (the Python tab):\n\n" + python;
    return { curl, python, openai, boto3 };
  }
  if (named !== undefined) { // a TEI body has no "model" field, and invoke_endpoint sends no X-Model header
    const boto3 = `# This body has no "model" field and invoke_endpoint sends no X-Model header, so SageMaker's ` +
      `/invocations would run it on the\n# container's first model, not ${named}. Call ${path} over HTTP (the ` +
      "Python tab):\n\n" + python;
    return { curl, python, openai, boto3 };
  }
  const boto3 = ["import json\n\nimport boto3\n\n",
    "# On SageMaker: boto3.client(\"sagemaker-runtime\") and your endpoint's name. Here, against this server\n",
    "# (it answers /endpoints/<name>/invocations like SageMaker; boto3 still wants AWS credentials, any will do):\n",
    keys ? "# Note: boto3 cannot send this server's API key (SageMaker authenticates with IAM instead).\n" : "",
    `runtime = boto3.client("sagemaker-runtime", endpoint_url="${origin}", region_name="us-east-1")\n`,
    `body = ${py(body)}\n`, "response = runtime.invoke_endpoint(\n",
    `    EndpointName="${ENDPOINT_NAMES[info.kind] || "my-endpoint"}",\n`,
    '    ContentType="application/json",\n', "    Body=json.dumps(body),\n)\n",
    'result = json.loads(response["Body"].read())\n', "print(result)\n"].join("");
  return { curl, python, openai, boto3 };
}

function updateSnippets() {
  if (!info) return;
  for (const [name, text] of Object.entries(snippets(buildRequest()))) $(`snippet-${name}`).textContent = text;
}

async function copyText(text, button) {
  const label = button.textContent;
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch { // no clipboard API (page not on https or localhost) or permission denied: the old way
    const area = el("textarea", { value: text, class: "offscreen" });
    document.body.append(area);
    area.select();
    ok = document.execCommand("copy");
    area.remove();
  }
  button.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => { button.textContent = label; }, 1200);
}

function download() {
  const blob = new Blob([rawResponse], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(blob), download: "response.json" });
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// ---- wiring -----------------------------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("run").addEventListener("click", run);
  $("add-input").addEventListener("click", () => { addInput("").focus(); updateSnippets(); });
  document.addEventListener("input", updateSnippets);
  document.addEventListener("change", updateSnippets);
  $("api-key").addEventListener("input", () => sessionStorage.setItem(KEY_STORE, $("api-key").value));
  for (const tab of document.querySelectorAll(".tabs [role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll(".tabs [role=tab]")) {
        other.setAttribute("aria-selected", String(other === tab));
      }
      for (const box of document.querySelectorAll(".snippet")) box.hidden = box.dataset.tab !== tab.dataset.tab;
    });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copyText($(button.dataset.copy).textContent, button));
  }
  $("copy-response").addEventListener("click", () => copyText(rawResponse, $("copy-response")));
  $("download-response").addEventListener("click", download);
  for (const canvas of [$("heatmap"), $("bars")]) {
    canvas.addEventListener("mousemove", tooltip);
    canvas.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
  }
  let resize = 0;
  window.addEventListener("resize", () => { clearTimeout(resize); resize = setTimeout(drawChart, 150); });
  loadInfo();
});

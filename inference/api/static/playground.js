// The playground at / (inference/api/web_ui.py): builds a request from the form, sends it to this server, shows the
// response, a cosine-similarity heatmap (embeddings) or score bars (rerank), and code for the same request.
// The page's CSP allows this file only: no inline script or style attribute, and the DOM is built with
// createElement/textContent, never innerHTML, so neither the response nor the inputs can inject markup.
"use strict";

const $ = (id) => document.getElementById(id);
const TYPES = ["float", "base64", "binary", "ubinary"];
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
const PALETTE = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];

let info = null;
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
const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const errorText = (body) => (body && body.error ? `${body.error.type}: ${body.error.message}` : "");

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
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
  info = body;
  $("status").textContent = "";
  setup();
}

function setup() {
  $("model-name").textContent = info.model;
  const embed = info.kind !== "rerank"; // a reranker's "dimensions" (one score) and pooling say nothing
  const facts = [["kind", info.kind], ["dimensions", embed ? info.dimensions : null],
    ["max length", `${info.max_length} tokens`], ["tasks", info.tasks.length ? info.tasks.join(", ") : "none"],
    ["modalities", info.modalities.join(", ")], ["pooling", embed ? info.pooling : null],
    ["device", `${info.device} · ${info.dtype}`]];
  $("model-facts").replaceChildren(...facts.filter(([, v]) => v != null)
    .map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, String(v)))));
  const rerank = isRerank();
  $("query-row").hidden = !rerank;
  $("embed-options").hidden = rerank;
  $("rerank-options").hidden = !rerank;
  $("heatmap").hidden = rerank;
  $("bars").hidden = !rerank;
  $("inputs-title").textContent = rerank ? "Query and documents" : "Inputs";
  $("add-input").textContent = rerank ? "+ Add document" : "+ Add input";
  $("chart-title").textContent = rerank ? "Relevance" : "Similarity";
  $("chart-note").textContent = rerank ? "Run to rank the documents."
    : "Run to see the cosine similarity of the inputs.";
  if (rerank) $("query").value = RERANK_EXAMPLE.query;
  (rerank ? RERANK_EXAMPLE.documents : EXAMPLES).forEach((text) => addInput(text));
  $("dimensions").max = info.dimensions || "";
  const tasks = info.tasks.map((task) => el("option", { value: task }, task));
  $("task").replaceChildren(el("option", { value: "" }, "none"), ...tasks);
  $("task-row").hidden = !info.tasks.length;
  $("late-chunking-row").hidden = rerank || !info.late_chunking;
  $("normalized").parentElement.hidden = rerank;
  $("return-documents-row").hidden = !rerank;
  $("api-key-row").hidden = !info.api_key_required;
  $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
  $("run").disabled = false;
  updateSnippets();
}

// ---- inputs -----------------------------------------------------------------------------------------------------
const items = () => Array.from($("inputs").querySelectorAll(".input-item"));

function addInput(text = "") {
  const area = el("textarea", { class: "input-text", rows: 2, spellcheck: false, value: text });
  const remove = el("button", { type: "button", class: "icon", title: "Remove", "aria-label": "Remove" }, "×");
  const item = el("div", { class: "input-item" }, el("span", { class: "input-index" }), area);
  remove.addEventListener("click", () => { item.remove(); renumber(); updateSnippets(); });
  if (!isRerank() && info.modalities.includes("image")) {
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
function buildRequest() {
  const number = (id) => ($(id).value.trim() === "" ? undefined : Number($(id).value));
  if (isRerank()) {
    const body = { query: $("query").value, documents: items().map((i) => i.querySelector(".input-text").value) };
    if (number("top-n") !== undefined) body.top_n = number("top-n");
    body.return_documents = $("return-documents").checked;
    body.truncate = $("truncate").checked;
    return { path: "/v1/rerank", body };
  }
  const types = TYPES.filter((t) => $(`type-${t}`).checked);
  const body = {
    input: items().map((i) => (i.image ? { image: i.image } : i.querySelector(".input-text").value)),
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
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = `Bearer ${key}`;
  showError("");
  const canvas = $(isRerank() ? "bars" : "heatmap");
  canvas.dataset.ready = "false";
  $("run").disabled = true;
  $("run").textContent = "Running…";
  const started = performance.now();
  try {
    const reply = await fetch(request.path, { method: "POST", headers, body: JSON.stringify(request.body) });
    const text = await reply.text();
    $("latency").textContent = `${Math.round(performance.now() - started)} ms`;
    let data = null;
    try { data = JSON.parse(text); } catch { /* not JSON: shown as text below */ }
    if (!reply.ok) {
      showError(`HTTP ${reply.status}: ${errorText(data) || clip(text, 300) || reply.statusText}`);
      return;
    }
    window.lastRequest = request.body;
    window.lastResponse = data;
    rawResponse = text;
    $("response").textContent = pretty(data);
    $("copy-response").disabled = $("download-response").disabled = false;
    const usage = data.usage || {};
    const prompt = usage.prompt_tokens;
    $("usage").textContent = `${usage.total_tokens} tokens` +
      (prompt !== undefined && prompt !== usage.total_tokens ? ` (prompt ${prompt})` : "");
    if (isRerank()) drawBars(data.results, request.body.documents);
    else similarity(data.data, request.body);
  } catch (err) {
    showError(`Request failed: ${err.message}`);
  } finally {
    $("run").disabled = false;
    $("run").textContent = "Run";
  }
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

function snippets({ path, body }) {
  const origin = location.origin, keys = info.api_key_required, url = origin + path;
  const envKey = 'os.environ["EMB_API_KEY"]';
  const curl = [`curl -sS ${url} \\`, "  -H 'Content-Type: application/json' \\",
    ...(keys ? ['  -H "Authorization: Bearer $EMB_API_KEY" \\'] : []),
    // the body on stdin from a quoted here-document: no shell expansion, and no limit on one argument's size
    // (a pasted image's data URI can pass Linux's 128 KiB), and no line of JSON.stringify's output is "JSON"
    "  --data-binary @- <<'JSON'", JSON.stringify(body, null, 2), "JSON"].join("\n");
  const python = [keys ? "import os\n\n" : "", "import requests\n\n", "response = requests.post(\n",
    `    "${url}",\n`,
    keys ? `    headers={"Authorization": "Bearer " + ${envKey}},\n` : "",
    `    json=${py(body, "    ")},\n`, "    timeout=60,\n)\n", "response.raise_for_status()\n",
    "print(response.json())\n"].join("");
  let openai;
  if (isRerank()) {
    openai = `# OpenAI's API has no rerank endpoint, so the OpenAI client cannot call ${path}.\n` +
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
  const boto3 = ["import json\n\nimport boto3\n\n",
    "# On SageMaker: boto3.client(\"sagemaker-runtime\") and your endpoint's name. Here, against this server\n",
    "# (it answers /endpoints/<name>/invocations like SageMaker; boto3 still wants AWS credentials, any will do):\n",
    keys ? "# Note: boto3 cannot send this server's API key (SageMaker authenticates with IAM instead).\n" : "",
    `runtime = boto3.client("sagemaker-runtime", endpoint_url="${origin}", region_name="us-east-1")\n`,
    `body = ${py(body)}\n`, "response = runtime.invoke_endpoint(\n",
    `    EndpointName="${isRerank() ? "my-reranker" : "my-embeddings"}",\n`,
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
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[role=tab]")) {
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

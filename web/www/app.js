// The page's side: fetch the run's files, hand image bytes to the wasm Classifier, show the
// answers. Every pixel operation happens in Rust (zoo_data::Preprocess, as `zoo predict`).
import init, { Classifier, maxFileBytes } from "./pkg/zoo_web.js";

const TOP = 5;
const $ = (id) => document.getElementById(id);
// What the browser test reads: readiness, timings, every answer in order.
const zoo = (window.zoo = { ready: false, failed: null, stats: {}, results: [] });

function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = !text;
}

async function fetchOk(path, kind) {
  let response;
  try {
    response = await fetch(path);
  } catch (error) {
    throw new Error(`cannot load ${path}: ${error.message}`);
  }
  if (!response.ok) throw new Error(`cannot load ${path}: HTTP ${response.status}`);
  return kind === "bytes" ? new Uint8Array(await response.arrayBuffer()) : response.text();
}

let classifier = null;

async function load() {
  const wasm = await init();
  const [config, preprocess, weights, sha, summary] = await Promise.all([
    fetchOk("model/config.toml"),
    fetchOk("model/preprocess.json"),
    fetchOk("model/model.bpk", "bytes"),
    fetchOk("model/model.bpk.sha256"),
    fetchOk("model/summary.json").catch(() => null),
  ]);
  classifier = new Classifier(config, preprocess, weights, sha);
  zoo.stats.readyMs = performance.now();
  zoo.stats.weightsBytes = weights.length;
  zoo.maxFileBytes = maxFileBytes();
  zoo.stats.wasmPages = wasm.memory.buffer.byteLength / 65536;
  if (summary) {
    const test = JSON.parse(summary).test;
    if (test) $("accuracy").textContent = `Test accuracy ${test.accuracy.toFixed(2)} % on ${test.items} images.`;
  }
  $("status").textContent = `Model ready in ${Math.round(zoo.stats.readyMs)} ms (${(weights.length / 1e6).toFixed(1)} MB of weights).`;
  for (const id of ["files", "classify-drawing"]) $(id).disabled = false;
  zoo.ready = true;
}

function row(name, prediction, ms, error) {
  const item = document.createElement("li");
  const title = document.createElement("div");
  title.className = "name";
  title.textContent = name;
  item.append(title);
  if (error) {
    item.className = "error";
    const why = document.createElement("div");
    why.textContent = error;
    item.append(why);
  } else {
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = `${ms.toFixed(1)} ms`;
    title.append(time);
    for (const { class: label, probability } of prediction.top) {
      const bar = document.createElement("div");
      bar.className = "bar";
      const name = document.createElement("span");
      name.textContent = label;
      const track = document.createElement("span");
      const fill = document.createElement("div");
      fill.className = "fill";
      fill.style.width = `${(100 * probability).toFixed(1)}%`;
      track.append(fill);
      const p = document.createElement("span");
      p.className = "p";
      p.textContent = `${(100 * probability).toFixed(1)} %`;
      bar.append(name, track, p);
      item.append(bar);
    }
  }
  const list = $("results");
  list.prepend(item);
  while (list.children.length > 100) list.lastChild.remove();
}

// One input through the wasm classifier; never throws (a bad file is a message and a row).
function classify(bytes, name) {
  const start = performance.now();
  try {
    const prediction = JSON.parse(classifier.classify(bytes, name, TOP));
    const ms = performance.now() - start;
    if (zoo.stats.firstPredictionMs === undefined) zoo.stats.firstPredictionMs = performance.now();
    zoo.results.push({ name, ms, probabilities: prediction.probabilities, top: prediction.top });
    row(name, prediction, ms, null);
    showMessage("");
  } catch (error) {
    const text = error && error.message ? error.message : String(error);
    zoo.results.push({ name, error: text });
    row(name, null, 0, text);
    showMessage(text);
  }
}

async function classifyFiles(files) {
  if (!classifier) return;
  const limit = maxFileBytes();
  for (const file of files) {
    if (file.size > limit) {
      const text = `${file.name}: ${(file.size / 1048576).toFixed(1)} MiB, more than this page takes (${limit / 1048576} MiB)`;
      zoo.results.push({ name: file.name, error: text });
      row(file.name, null, 0, text);
      showMessage(text);
      continue;
    }
    let bytes;
    try {
      bytes = new Uint8Array(await file.arrayBuffer());
    } catch (error) {
      showMessage(`${file.name}: cannot be read (${error.message})`);
      continue;
    }
    classify(bytes, file.name);
  }
  zoo.stats.done = zoo.results.length;
}

// Drawing: white strokes on black, as Fashion-MNIST's garments.
const canvas = $("canvas");
const pen = canvas.getContext("2d");
function clear() {
  pen.fillStyle = "#000";
  pen.fillRect(0, 0, canvas.width, canvas.height);
}
clear();
let drawing = false;
const at = (event) => {
  const box = canvas.getBoundingClientRect();
  return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
};
canvas.addEventListener("pointerdown", (event) => {
  drawing = true;
  canvas.setPointerCapture(event.pointerId);
  pen.beginPath();
  pen.moveTo(...at(event));
});
canvas.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  pen.strokeStyle = "#fff";
  pen.lineWidth = 22;
  pen.lineCap = pen.lineJoin = "round";
  pen.lineTo(...at(event));
  pen.stroke();
});
const stop = () => {
  if (drawing) {
    drawing = false;
    classifyDrawing();
  }
};
canvas.addEventListener("pointerup", stop);
canvas.addEventListener("pointercancel", stop);
function classifyDrawing() {
  if (!classifier) return;
  canvas.toBlob(async (blob) => classify(new Uint8Array(await blob.arrayBuffer()), "drawing"), "image/png");
}
$("clear").addEventListener("click", clear);
$("classify-drawing").addEventListener("click", classifyDrawing);

$("files").addEventListener("change", (event) => {
  const files = [...event.target.files];
  event.target.value = ""; // the same file chosen again is a new change
  classifyFiles(files);
});
const drop = $("drop");
drop.addEventListener("dragover", (event) => {
  event.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  classifyFiles([...event.dataTransfer.files]);
});

load().catch((error) => {
  zoo.failed = error.message || String(error);
  $("status").textContent = "The model could not be loaded.";
  showMessage(zoo.failed);
});

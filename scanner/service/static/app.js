// leakscan employee page: drop files, POST each to /v1/scan, show the verdict, reasons and evidence boxes;
// for a file that is not approved, offer a safe copy (POST /v1/fix) as a download with the copy's own verdict.
// Everything from the server or the file name is untrusted: text goes in with textContent, never parsed as HTML.
"use strict";

const TOKEN_KEY = "leakscan.token";
const THUMB_MAX = 240;

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function regions(report) {
  // Every finding with a box, from the file and (for a plain image) nowhere else.
  const out = [];
  for (const f of report.findings || []) {
    const r = f.region;
    if (r && typeof r.x === "number" && typeof r.y === "number" && r.w > 0 && r.h > 0) out.push(r);
  }
  return out;
}

function drawThumb(file, report, canvas) {
  if (!file.type.startsWith("image/")) { canvas.hidden = true; return; }
  const url = URL.createObjectURL(file);
  const img = new Image();
  img.onload = () => {
    const scale = Math.min(1, THUMB_MAX / Math.max(img.naturalWidth, img.naturalHeight));
    canvas.width = Math.round(img.naturalWidth * scale);
    canvas.height = Math.round(img.naturalHeight * scale);
    const ctx = canvas.getContext("2d");
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#d00";
    ctx.lineWidth = 2;
    for (const r of regions(report)) ctx.strokeRect(r.x * scale, r.y * scale, r.w * scale, r.h * scale);
    URL.revokeObjectURL(url);
  };
  img.onerror = () => { canvas.hidden = true; URL.revokeObjectURL(url); };
  img.src = url;
}

function showReport(item, file, report) {
  const decision = ["approve", "review", "block"].includes(report.decision) ? report.decision : "review";
  item.querySelector(".verdict").textContent = decision;
  item.dataset.decision = decision;
  const reasons = item.querySelector(".reasons");
  for (const r of report.reasons || []) reasons.append(el("li", "", r.message));
  for (const e of report.errors || []) reasons.append(el("li", "", e.message));
  drawThumb(file, report, item.querySelector("canvas"));
  if (decision !== "approve" && !item.querySelector(".fix")) {
    const button = el("button", "fix", "Make a safe copy");
    button.type = "button";
    button.addEventListener("click", () => fixFile(item, file, button));
    item.append(button);
  }
}

function authHeaders() {
  const token = document.getElementById("token").value.trim();
  return token ? { Authorization: "Bearer " + token } : {};
}

async function fixFile(item, file, button) {
  button.disabled = true;
  const status = el("span", "fix-status", "making a safe copy…");
  button.after(status);
  const body = new FormData();
  body.append("file", file, file.name);
  try {
    const response = await fetch("/v1/fix", { method: "POST", body, headers: authHeaders(), credentials: "omit" });
    if (!response.ok) {
      const answer = response.status === 422 ? await response.json() : null;
      status.textContent = answer && typeof answer.problem === "string" ? answer.problem :
        "no safe copy (" + response.status + ")";
      return;
    }
    const verdict = response.headers.get("X-Leakscan-Decision");
    const copy = ["approve", "review", "block"].includes(verdict) ? verdict : "review";
    const link = el("a", "download", "Download the safe copy");
    link.href = URL.createObjectURL(await response.blob());
    link.download = safeName(file.name, response.headers.get("Content-Type") || "");
    status.textContent = "safe copy: " + copy + (copy === "approve" ? "" : " (still needs a person)");
    status.dataset.decision = copy;
    status.after(link);
  } catch (err) {
    status.textContent = "the service did not answer";
  }
}

function safeName(name, type) {
  const stem = name.replace(/\.[^.]*$/, "") || "upload";
  const ext = type.startsWith("image/jpeg") ? "jpg" : type.startsWith("image/png") ? "png" :
    (name.match(/\.([A-Za-z0-9]{1,5})$/) || [null, "bin"])[1];
  return stem + ".safe." + ext;
}

async function scanFile(file) {
  const item = el("li", "result");
  const head = el("div", "head");
  head.append(el("span", "name", file.name), el("span", "verdict", "checking…"));
  item.append(head, el("canvas", "thumb"), el("ul", "reasons"));
  document.getElementById("results").prepend(item);
  const body = new FormData();
  body.append("file", file, file.name);
  try {
    const response = await fetch("/v1/scan", { method: "POST", body, headers: authHeaders(), credentials: "omit" });
    if (!response.ok) {
      const text = response.status === 401 ? "token missing or wrong" :
        response.status === 413 ? "file too large" : "not checked (" + response.status + ")";
      showReport(item, file, { decision: "review", reasons: [{ message: text }] });
      return;
    }
    showReport(item, file, await response.json());
  } catch (err) {
    showReport(item, file, { decision: "review", reasons: [{ message: "the service did not answer" }] });
  }
}

function scanAll(files) {
  for (const f of files) scanFile(f);
}

document.addEventListener("DOMContentLoaded", () => {
  const token = document.getElementById("token");
  token.value = sessionStorage.getItem(TOKEN_KEY) || "";
  token.addEventListener("change", () => sessionStorage.setItem(TOKEN_KEY, token.value.trim()));
  const drop = document.getElementById("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    scanAll(e.dataTransfer.files);
  });
  document.getElementById("files").addEventListener("change", (e) => {
    const files = Array.from(e.target.files);
    e.target.value = "";  // so the same file can be chosen again (e.g. after signing in)
    scanAll(files);
  });
});

// The ccrkit search page: plain JavaScript, no build step. Talks to /api/* and shows /media/*.
"use strict";

const TOKEN_KEY = "ccrkit_token";
const $ = (selector) => document.querySelector(selector);

async function api(path, params) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  const response = await fetch(url, { headers: token ? { "X-API-Token": token } : {} });
  if (response.status === 401) {
    $("#token-form").hidden = false;
    $("#token").focus();
    throw new Error("This server needs an API token.");
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `The server answered ${response.status}.`);
  return body;
}

function setStatus(text, isError) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

function note(kind, title, text) {
  const box = Object.assign(document.createElement("p"), { className: `note ${kind}` });
  box.append(Object.assign(document.createElement("strong"), { textContent: title }), text);
  return box;
}

function listOf(codes) {
  const names = codes.map((code) => languageName(code, false));
  try {
    return new Intl.ListFormat("en", { type: "conjunction" }).format(names);
  } catch {
    return names.join(", ");
  }
}

// What the page says beside the results: the query's language is not one the model knows;
// the best result scores under the index's calibrated threshold ("no good match").
function notesFor(body) {
  const notes = [];
  if (body.foreign_lang && body.detected_lang) {
    notes.push(note("language", `This looks like ${languageName(body.detected_lang, false)}, which the model was not trained on.`,
      `It knows ${listOf(body.model_langs)}; results for other languages are often poor. Try the query in one of those.`));
  }
  if (body.good_match === false && body.results.length) {
    const best = body.results[0].score.toFixed(3);
    notes.push(note("no-match", "No good match.",
      `The best score, ${best}, is below ${body.threshold.toFixed(3)}, the score this index's true matches reach on held-out queries. The closest pictures are shown faded.`));
  }
  return notes;
}

function card(result) {
  const item = $("#card").content.firstElementChild.cloneNode(true);
  const caption = result.captions[0] || result.id;
  item.dataset.id = result.id;
  const image = item.querySelector("img");
  if (result.media_url) {
    image.src = result.media_url;
    image.alt = caption;
  } else {
    image.replaceWith(Object.assign(document.createElement("span"), { className: "no-picture", textContent: "no picture" }));
  }
  if (result.kind === "video") item.classList.add("video");
  item.querySelector(".score").textContent = result.score.toFixed(3);
  item.querySelector(".caption").textContent = caption;
  if (result.caption_lang) item.querySelector(".caption").lang = result.caption_lang;
  item.querySelector(".caption").title = result.captions.join("\n") || result.id;
  const button = item.querySelector(".similar");
  button.setAttribute("aria-label", `More like “${caption}”`);
  button.addEventListener("click", () => navigate({ like: result.id }));
  return item;
}

function show(results, heading, notes = [], weak = false) {
  const grid = $("#results");
  grid.replaceChildren(...results.map(card));
  grid.classList.toggle("weak", weak);
  $("#notes").replaceChildren(...notes);
  setStatus(results.length ? heading : "Nothing found.");
}

async function run(params) {
  try {
    if (params.like) {
      setStatus("Looking for similar pictures…");
      const body = await api("/api/similar", { id: params.like, k: params.k });
      show(body.results, `${body.results.length} pictures like “${params.like}”`);
    } else if (params.q) {
      setStatus("Searching…");
      const body = await api("/api/search", { q: params.q, lang: params.lang, k: params.k });
      const weak = body.good_match === false;
      const heading = weak ? `No good match for “${body.query}”` : `${body.results.length} results for “${body.query}”`;
      show(body.results, heading, notesFor(body), weak);
    } else {
      show([], "");
      setStatus("");
    }
  } catch (error) {
    $("#notes").replaceChildren();
    setStatus(error.message, true);
  }
}

function currentParams() {
  const search = new URLSearchParams(window.location.search);
  return { q: search.get("q") || "", lang: search.get("lang") || "", like: search.get("like") || "", k: search.get("k") || "" };
}

function navigate(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) search.set(name, value);
  history.pushState(null, "", `?${search}`);
  run(params);
  if (params.like) $("#results").focus({ preventScroll: true });
}

// The menu shows a language only if it has it (else "any language"): setting a <select> to a
// value it lacks would show it blank, e.g. after an error about ?lang=xx.
function syncForm(params) {
  $("#q").value = params.q;
  const select = $("#lang");
  select.value = [...select.options].some((option) => option.value === params.lang) ? params.lang : "";
}

async function loadInfo() {
  try {
    const info = await api("/api/info");
    const select = $("#lang");
    select.replaceChildren(select.options[0]);  // loaded again after a token is entered
    for (const code of info.languages) {
      select.append(new Option(languageName(code), code));
    }
    syncForm(currentParams());
    const recall = info.index.recall_at_10 === null ? "exact" : `recall@10 ${info.index.recall_at_10.toFixed(3)}`;
    const threshold = info.score_threshold === null ? "" : ` · no good match below ${info.score_threshold.toFixed(3)}`;
    $("#info").textContent = `${info.items.toLocaleString()} items · model ${info.model} · ${info.index.type} index (${recall})${threshold}`;
  } catch (error) {
    setStatus(error.message, true);
  }
}

function languageName(code, withCode = true) {
  try {
    const name = new Intl.DisplayNames(["en"], { type: "language" }).of(code);
    if (name && name !== code) return withCode ? `${name} (${code})` : name;
  } catch {
    // an unknown code: show it as it is
  }
  return code;
}

function setUp() {
  $("#search").addEventListener("submit", (event) => {
    event.preventDefault();
    navigate({ q: $("#q").value.trim(), lang: $("#lang").value });
  });
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("#token").value.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    document.cookie = `${TOKEN_KEY}=${encodeURIComponent(token)}; path=/; SameSite=Strict`;
    $("#token-form").hidden = true;
    loadInfo().then(() => run(currentParams()));
  });
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
    if (event.key === "/" && !typing) {
      event.preventDefault();
      $("#q").focus();
      $("#q").select();
    } else if (event.key === "Escape" && document.activeElement === $("#q")) {
      $("#q").value = "";
    }
  });
  $("#results").tabIndex = -1;
  window.addEventListener("popstate", () => {
    syncForm(currentParams());
    run(currentParams());
  });
  const params = currentParams();
  syncForm(params);
  loadInfo();
  run(params);
}

setUp();

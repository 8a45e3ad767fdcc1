// reelmatch page: a poster grid, neighbours in both directions, free-text and
// poster-upload search. Plain DOM, no framework, everything from this server.
"use strict";

const $ = (sel) => document.querySelector(sel);
const pageSize = 60;
let offset = 0;
let total = 0;
const state = { k: 5 };

async function api(path, init) {
  const res = await fetch(path, init);
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function card(m, { match = false, extra = "" } = {}) {
  const f = $("#card").content.firstElementChild.cloneNode(true);
  const img = f.querySelector("img");
  img.src = m.poster;
  img.alt = "Poster of " + m.name;
  const cap = f.querySelector("figcaption");
  cap.textContent = m.name;
  cap.title = m.name;
  if (extra) cap.prepend(el("span", { class: "meta" }, extra), el("br"));
  f.dataset.id = m.id;
  if (match) f.classList.add("match");
  // Held-out movies were never seen in training: mark them, since how well
  // they match is the honest measure.
  if (m.split === "test") f.append(el("span", { class: "tag", title: "held out: not seen in training" }, "held out"));
  const open = () => showPoster(m.id);
  f.addEventListener("click", open);
  f.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
  return f;
}

function introItem(h, onclick) {
  const li = el("li", { "data-id": h.id, class: h.is_match ? "match" : "", tabindex: "0", onclick });
  li.append(el("div", { class: "meta" },
    el("span", {}, "#" + h.rank),
    el("span", { class: "dist" }, "distance " + h.distance.toFixed(3)),
    el("span", {}, h.name),
    h.is_match ? el("span", { class: "badge" }, "true match") : ""));
  li.append(el("div", {}, h.intro));
  return li;
}

function showResults(...nodes) {
  const r = $("#results");
  r.replaceChildren(el("button", { class: "close", type: "button", onclick: () => { r.hidden = true; } }, "Close"), ...nodes);
  r.hidden = false;
  r.scrollIntoView({ behavior: "smooth", block: "start" });
}

function showError(err) {
  showResults(el("p", { class: "error" }, String(err.message || err)));
}

// maxDistance is the page's threshold as a query parameter: "" when the
// field is empty (the server's --max-distance, if any, applies).
function maxDistance() {
  const v = $("#max-distance").value.trim();
  return v === "" ? "" : "&max_distance=" + encodeURIComponent(v);
}

// noMatch says that nothing is within the threshold, and how far the
// nearest result was, instead of showing far results as matches.
function noMatch(r, what) {
  return el("p", { class: "nomatch", id: "no-match" },
    `No close match: no ${what} within distance ${r.max_distance}. ` +
    `The nearest is at ${r.nearest_distance.toFixed(3)}; raise the max distance to see it.`);
}

// empty reports whether a threshold left no result.
const empty = (r) => r.results.length === 0 && r.nearest_distance !== undefined;

function rankLine(rank, what) {
  if (!rank) return "";
  return el("p", { class: "rank" }, rank <= state.k
    ? `Its own ${what} is at rank ${rank}.`
    : `Its own ${what} is at rank ${rank}, outside the top ${state.k}.`);
}

async function showPoster(id) {
  try {
    const r = await api(`/api/movies/${encodeURIComponent(id)}/neighbors?direction=poster_to_intro&k=${state.k}${maxDistance()}`);
    const q = r.query;
    const list = el("ol", { class: "intro-list", id: "neighbors" });
    for (const h of r.results) list.append(introItem(h, () => showIntro(h.id)));
    const shown = empty(r) ? noMatch(r, "intro") : list;
    showResults(el("div", { class: "detail" },
      el("img", { class: "big", src: q.poster, alt: "Poster of " + q.name }),
      el("div", {},
        el("h2", {}, q.name + " "), el("p", { class: "muted" }, `${q.split === "test" ? "held out (test split)" : "training split"} · id ${q.id}`),
        el("p", {}, q.intro),
        el("h2", {}, `Nearest ${state.k} intros to this poster`),
        rankLine(r.true_rank, "intro"),
        shown)));
  } catch (e) { showError(e); }
}

async function showIntro(id) {
  try {
    const r = await api(`/api/movies/${encodeURIComponent(id)}/neighbors?direction=intro_to_poster&k=${state.k}${maxDistance()}`);
    const q = r.query;
    const grid = el("div", { class: "grid", id: "neighbors" });
    for (const h of r.results) grid.append(card(h, { match: h.is_match, extra: "#" + h.rank + " · d " + h.distance.toFixed(3) }));
    showResults(el("h2", {}, `Nearest ${state.k} posters to the intro of ${q.name}`),
      el("p", {}, q.intro), rankLine(r.true_rank, "poster"), empty(r) ? noMatch(r, "poster") : grid);
  } catch (e) { showError(e); }
}

async function textSearch(ev) {
  ev.preventDefault();
  const text = $("#text-query").value.trim();
  if (!text) return;
  try {
    const r = await api(`/api/search?k=${state.k * 2}&text=${encodeURIComponent(text)}${maxDistance()}`);
    const grid = el("div", { class: "grid", id: "search-results" });
    for (const h of r.results) grid.append(card(h, { extra: "#" + h.rank + " · d " + h.distance.toFixed(3) }));
    showResults(el("h2", {}, "Posters for “" + text + "”"), empty(r) ? noMatch(r, "poster") : grid);
  } catch (e) { showError(e); }
}

async function imageSearch() {
  const file = $("#image-file").files[0];
  if (!file) return;
  const form = new FormData();
  form.append("image", file);
  try {
    const r = await api(`/api/search/image?k=${state.k}${maxDistance()}`, { method: "POST", body: form });
    const list = el("ol", { class: "intro-list", id: "search-results" });
    for (const h of r.results) list.append(introItem(h, () => showIntro(h.id)));
    showResults(el("div", { class: "detail" },
      el("img", { class: "big", src: URL.createObjectURL(file), alt: "Uploaded poster" }),
      el("div", {}, el("h2", {}, "Intros for the uploaded poster"), empty(r) ? noMatch(r, "intro") : list)));
  } catch (e) { showError(e); }
  $("#image-file").value = "";
}

async function loadMore() {
  try {
    const r = await api(`/api/movies?offset=${offset}&limit=${pageSize}`);
    total = r.total;
    for (const m of r.movies) $("#grid").append(card(m));
    offset += r.movies.length;
    $("#count").textContent = `${total} movies`;
    $("#more").hidden = offset >= total;
  } catch (e) { showError(e); }
}

async function loadInfo() {
  try {
    const i = await api("/api/info");
    const parts = [i.encoder && "encoder " + i.encoder];
    if (i.movies) parts.push(i.test !== undefined ? `${i.movies} movies (${i.train} train, ${i.test} held out)` : `${i.movies} movies`);
    if (i.metrics) parts.push(i.metrics);
    if (i.max_distance !== undefined && $("#max-distance").value === "") $("#max-distance").value = i.max_distance;
    $("#info").textContent = parts.filter(Boolean).join(" · ");
    if (i.search === false) disableSearch(i.search_error || "model not loaded");
  } catch (e) { $("#info").textContent = ""; }
}

// disableSearch greys out both searches when the server has no encoder;
// browsing and neighbours still work.
function disableSearch(why) {
  for (const sel of ["#text-query", "#text-search button", "#image-file"]) {
    $(sel).disabled = true;
    $(sel).title = why;
  }
  $(".upload").classList.add("disabled");
  $(".upload").title = why;
  $("#text-query").placeholder = "Search is unavailable (see below)";
  $("#notice").textContent = "Text and poster search are off: " + why + ". Browsing and neighbours still work.";
  $("#notice").hidden = false;
}

// The header is sticky on wide windows: keep scrolled-to results below it,
// whatever its height after wrapping and after the run's summary loads
// (hence a ResizeObserver, not the window's resize event). On narrow
// windows it scrolls away with the page (style.css), so it hides nothing.
// CSSOM, so the CSP's style-src 'self' allows it.
function fitScrollPadding() {
  const h = $("header");
  const sticky = getComputedStyle(h).position === "sticky";
  document.documentElement.style.scrollPaddingTop = ((sticky ? h.offsetHeight : 0) + 12) + "px";
}
new ResizeObserver(fitScrollPadding).observe($("header"));
window.addEventListener("resize", fitScrollPadding);
fitScrollPadding();

$("#text-search").addEventListener("submit", textSearch);
$("#image-file").addEventListener("change", imageSearch);
$("#more").addEventListener("click", loadMore);
// Load the next page when the button scrolls into view.
new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting) && offset < total) loadMore(); })
  .observe($("#more"));
loadInfo();
loadMore();

// cwsim dashboard: every 1.5 s while the tab is visible, ask which sections changed and swap in their HTML.
"use strict";
(() => {
  const POLL_MS = 1500;
  const live = document.getElementById("live");
  const filter = document.getElementById("journal-filter");
  let timer = null;
  let busy = false;
  let again = false; // asked while a refresh was on its way: run once more after it

  function sections() {
    return document.querySelectorAll("[data-section]");
  }

  function filterParams() {
    const params = new URLSearchParams();
    if (filter) {
      for (const [name, value] of new FormData(filter)) {
        if (value) params.set(name, value);
      }
    }
    return params;
  }

  function openDetails(element) {
    return new Set([...element.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key));
  }

  function replace(element, section) {
    const keepOpen = openDetails(element);
    element.innerHTML = section.html; // rendered by the server's autoescaping templates
    element.dataset.version = section.version;
    for (const details of element.querySelectorAll("details[data-key]")) {
      if (keepOpen.has(details.dataset.key)) details.open = true;
    }
  }

  function say(text, state) {
    if (!live) return;
    live.textContent = text;
    live.className = "badge " + state;
  }

  async function refresh() {
    if (document.hidden) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    const params = filterParams();
    for (const element of sections()) params.set(element.dataset.section, element.dataset.version);
    try {
      const response = await fetch("/_sim/dashboard/update?" + params.toString(), { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      for (const [name, section] of Object.entries(data.sections)) {
        const element = document.querySelector('[data-section="' + name + '"]');
        if (element) replace(element, section);
      }
      say("live · " + new Date().toLocaleTimeString(), "on");
    } catch (error) {
      say("not answering", "off");
    } finally {
      busy = false;
      if (again) {
        again = false;
        refresh();
      }
    }
  }

  function start() {
    if (timer === null) timer = setInterval(refresh, POLL_MS);
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    say("paused", "");
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      stop();
    } else {
      refresh();
      start();
    }
  });

  if (filter) {
    filter.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = filterParams().toString();
      history.replaceState(null, "", (query ? "?" + query : location.pathname) + "#journal");
      const journal = document.querySelector('[data-section="journal"]');
      if (journal) journal.dataset.version = ""; // the filter changed: the journal must come back
      refresh();
    });
  }

  if (!document.hidden) {
    say("live", "on");
    start();
  }
})();

// hubspot-gateway admin console: enhancements only. Every page and form works without this
// file (confirmations then come as a page, progress by reloading).
"use strict";

// Buttons and forms with data-confirm ask first; a confirmed post says so, and the server
// skips its confirmation page.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const button = event.submitter;
  const message = (button && button.dataset.confirm) || form.dataset.confirm;
  if (!message) return;
  if (!window.confirm(message)) {
    event.preventDefault();
    return;
  }
  const confirmed = document.createElement("input");
  confirmed.type = "hidden";
  confirmed.name = "confirmed";
  confirmed.value = "yes";
  form.appendChild(confirmed);
});

// Live progress: an element with data-progress="URL" polls the job's JSON and updates its
// <progress> and [data-field] texts; the page reloads once the job has finished.
for (const element of document.querySelectorAll("[data-progress]")) {
  const tick = async () => {
    try {
      const response = await fetch(element.dataset.progress, {
        credentials: "same-origin",
        headers: { accept: "application/json" },
      });
      if (response.ok) {
        const job = await response.json();
        const bar = element.querySelector("progress");
        if (bar) {
          bar.max = Math.max(job.total, 1);
          bar.value = job.done;
        }
        for (const field of element.querySelectorAll("[data-field]")) {
          field.textContent = job[field.dataset.field];
        }
        if (job.finished) {
          window.location.reload();
          return;
        }
      }
    } catch (_) {
      // The next tick tries again.
    }
    window.setTimeout(tick, 1000);
  };
  window.setTimeout(tick, 1000);
}

// Search as you type: input[data-filter="LIST-ID"] hides the list's [data-text] items that
// do not contain what was typed.
for (const input of document.querySelectorAll("input[data-filter]")) {
  const list = document.getElementById(input.dataset.filter);
  if (!list) continue;
  input.addEventListener("input", () => {
    const needle = input.value.trim().toLowerCase();
    for (const item of list.querySelectorAll("[data-text]")) {
      item.hidden = needle !== "" && !item.dataset.text.includes(needle);
    }
  });
}

// A select with data-refresh re-renders its form (e.g. the picklist values of a newly chosen
// property) without saving.
for (const select of document.querySelectorAll("select[data-refresh]")) {
  select.addEventListener("change", () => {
    const refresh = document.createElement("input");
    refresh.type = "hidden";
    refresh.name = "refresh";
    refresh.value = "yes";
    select.form.appendChild(refresh);
    select.form.submit();
  });
}

// A select with data-submit-on-change (the header's portal switcher) submits its form at once;
// without this file the person clicks its button.
for (const select of document.querySelectorAll("select[data-submit-on-change]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

// A link marked data-go is where the page leads next (HubSpot's authorize page after
// Connect): followed at once; without this file the person clicks it.
const go = document.querySelector("a[data-go]");
if (go) window.location.replace(go.href);

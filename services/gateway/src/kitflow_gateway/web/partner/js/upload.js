// Upload a file: an HXL-tagged CSV or XLSX sent to the needs service's import, with the upload's
// real progress (XMLHttpRequest), then the import's report: every refused row with its row,
// column and reason (in the user's language, from the service), and those rows as a CSV to fix
// in Excel.

import { currentLanguage, formatNumber, t } from "/web/shared/i18n.js";
import { ApiError, api, newKey, upload } from "./api.js";
import { el } from "/web/shared/dom.js";

const TYPES = {
  csv: "text/csv",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
};
const state = { report: null, file: null, profiles: null };

function labelFor(id, key) {
  return el("label", { text: t(key), attrs: { for: id, "data-i18n": key } });
}

function hint(key, attrs = {}) {
  return el("p", { text: t(key), className: "hint", attrs: { "data-i18n": key, ...attrs } });
}

function typeOf(file) {
  const extension = file.name.split(".").pop().toLowerCase();
  return TYPES[extension] || null;
}

// ---- the errors CSV --------------------------------------------------------------------------

// OWASP's CSV-injection rule, as kitflow_shared.spreadsheet applies it to every CSV kitflow
// writes: text beginning with =, +, -, @, a tab or a carriage return is shown as text.
export function csvCell(value, delimiter) {
  if (typeof value === "number") {
    return String(value);
  }
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) {
    text = `'${text}`;
  }
  if (text.includes(delimiter) || /["\r\n]/.test(text)) {
    text = `"${text.replaceAll('"', '""')}"`;
  }
  return text;
}

// French Excel splits a CSV on semicolons, English Excel on commas; the byte-order mark makes
// it read UTF-8 (accents) rather than the Windows code page.
export function errorsCsv(errors) {
  const delimiter = currentLanguage() === "fr" ? ";" : ",";
  const header = [t("partner.upload.row"), t("partner.upload.column"), t("partner.upload.reason")];
  const lines = [header, ...errors.map((e) => [e.row, e.column, e.reason])].map((cells) =>
    cells.map((cell) => csvCell(cell, delimiter)).join(delimiter),
  );
  return `\uFEFF${lines.join("\r\n")}\r\n`;
}

function download() {
  const name = (state.file?.name || "import").replace(/\.[^.]+$/, "");
  const blob = new Blob([errorsCsv(state.report.errors)], { type: "text/csv;charset=utf-8" });
  const link = el("a", { attrs: { href: URL.createObjectURL(blob), download: `${name}-${t("partner.upload.file_suffix")}.csv` } });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// ---- sending ---------------------------------------------------------------------------------

function progress(sent, total) {
  const bar = document.getElementById("upload-progress");
  bar.max = total;
  bar.value = sent;
  document.getElementById("upload-progress-text").textContent = t("partner.upload.sending", {
    percent: Math.round((100 * sent) / Math.max(total, 1)),
  });
  if (sent >= total) {
    // Sent: the service reads and checks every row now (no progress to show, only that it runs).
    bar.removeAttribute("value");
    document.getElementById("upload-progress-text").textContent = t("partner.upload.importing");
  }
}

async function send(event, context) {
  event.preventDefault();
  const form = event.target;
  const file = form.querySelector("#file").files[0];
  const status = document.getElementById("upload-status");
  state.report = null;
  drawReport();
  if (!file || !typeOf(file)) {
    status.textContent = file ? t("partner.upload.wrong_type") : t("partner.upload.no_file");
    status.className = "field-error";
    form.querySelector("#file").setAttribute("aria-invalid", "true");
    return;
  }
  form.querySelector("#file").removeAttribute("aria-invalid");
  status.textContent = "";
  state.file = file;
  const query = new URLSearchParams({ submit: String(form.querySelector("#submit-imported").checked) });
  const profile = form.querySelector("#import-profile").value;
  if (profile) {
    query.set("profile", profile);
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  document.getElementById("upload-progress-box").hidden = false;
  progress(0, file.size);
  try {
    state.report = await upload(`/v1/needs/imports?${query}`, file, {
      contentType: typeOf(file),
      key: newKey(),
      onProgress: progress,
    });
  } catch (error) {
    if (error instanceof ApiError && error.problem.report) {
      // Every row was refused: nothing was imported, and the report says why, row by row.
      state.report = error.problem.report;
    } else if (error instanceof ApiError) {
      // The file as a whole was refused (not HXL, a required column missing): nothing imported.
      status.textContent = error.message;
      status.className = "field-error";
    } else {
      context.showProblem(error);
    }
  } finally {
    button.disabled = false;
    document.getElementById("upload-progress-box").hidden = true;
  }
  drawReport();
}

// ---- the report ------------------------------------------------------------------------------

function figure(key, value) {
  return el("div", { className: "figure" }, [el("dt", { text: t(key) }), el("dd", { text: formatNumber(value) })]);
}

function drawReport() {
  const box = document.getElementById("upload-report");
  if (!box) {
    return;
  }
  const report = state.report;
  if (!report) {
    box.replaceChildren();
    return;
  }
  const parts = [
    el("h2", { text: t("partner.upload.report"), attrs: { id: "report-title" } }),
    el("dl", { className: "figures" }, [
      figure("partner.upload.rows", report.rows),
      figure("partner.upload.imported", report.imported),
      figure("partner.upload.updated", report.updated),
      figure("partner.upload.unchanged", report.unchanged),
      figure("partner.upload.rejected", report.rejected),
    ]),
  ];
  if (report.errors.length) {
    const button = el("button", { text: t("partner.upload.download"), className: "secondary", attrs: { type: "button", id: "download-errors" } });
    button.addEventListener("click", download);
    parts.push(
      el("p", { text: t("partner.upload.fix_hint") }),
      button,
      el("div", { className: "scroll" }, [
        el("table", { attrs: { id: "import-errors" } }, [
          el("caption", { text: t("partner.upload.errors_caption"), className: "visually-hidden" }),
          el("thead", {}, [
            el("tr", {}, [
              el("th", { text: t("partner.upload.row"), className: "number", attrs: { scope: "col" } }),
              el("th", { text: t("partner.upload.column"), attrs: { scope: "col" } }),
              el("th", { text: t("partner.upload.reason"), attrs: { scope: "col" } }),
            ]),
          ]),
          el(
            "tbody",
            {},
            report.errors.map((e) =>
              el("tr", {}, [
                el("td", { text: e.row, className: "number" }),
                el("td", {}, [el("code", { text: e.column })]),
                el("td", { text: e.reason }),
              ]),
            ),
          ),
        ]),
      ]),
    );
  } else {
    parts.push(el("p", { text: t("partner.upload.all_good"), className: "ok" }));
  }
  box.replaceChildren(...parts);
}

// ---- the section -----------------------------------------------------------------------------

export async function render(container, context) {
  state.profiles ??= await api("/v1/norms-profiles");
  const profile = el("select", { attrs: { id: "import-profile" } }, [
    el("option", { text: t("partner.upload.no_profile"), attrs: { value: "", "data-i18n": "partner.upload.no_profile" } }),
    ...state.profiles.map((p) => el("option", { text: p.name, attrs: { value: p.profile_id } })),
  ]);
  const form = el("form", { attrs: { id: "upload-form", novalidate: true } }, [
    hint("partner.upload.intro"),
    labelFor("file", "partner.upload.file"),
    el("input", { attrs: { id: "file", type: "file", accept: ".csv,.xlsx,text/csv", "aria-describedby": "file-hint" } }),
    hint("partner.upload.file_hint", { id: "file-hint" }),
    labelFor("import-profile", "partner.upload.profile"),
    profile,
    hint("partner.upload.profile_hint"),
    el("label", { className: "choice" }, [
      el("input", { attrs: { type: "checkbox", id: "submit-imported", checked: true } }),
      el("span", { text: t("partner.upload.submit"), attrs: { "data-i18n": "partner.upload.submit" } }),
    ]),
    el("button", { text: t("partner.upload.send"), attrs: { type: "submit", "data-i18n": "partner.upload.send" } }),
    el("p", { attrs: { id: "upload-status", role: "status" } }),
    el("div", { attrs: { id: "upload-progress-box", hidden: true } }, [
      el("progress", { attrs: { id: "upload-progress", "aria-labelledby": "upload-progress-text" } }),
      el("p", { attrs: { id: "upload-progress-text", "aria-live": "polite" } }),
    ]),
  ]);
  form.addEventListener("submit", (event) => send(event, context));
  container.append(form, el("section", { attrs: { id: "upload-report", "aria-labelledby": "report-title" } }));
  drawReport();
}

export async function relabel() {
  drawReport();
}

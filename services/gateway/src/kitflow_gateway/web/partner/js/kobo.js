// Kobo submissions: what KoboToolbox sent that could not become a need, kept with the reasons
// (in the user's language), its values shown and editable, and resubmitted once fixed. When the
// form's question is not mapped to an HXL hashtag, the mapping is fixed here too: one line per
// question, "question = #hashtag".

import { formatDateTime, t } from "/web/shared/i18n.js";
import { api, ApiError } from "./api.js";
import { el } from "/web/shared/dom.js";
import { showFieldErrors } from "./field-errors.js";
import { statusBadge, useStyles } from "./track.js";

const SUBMISSIONS = "/v1/integrations/kobo/submissions";
const MAPPING = "/v1/integrations/kobo/mapping";

// The questions a partner can correct: Kobo's metadata (_uuid, _id, ...) and repeat groups
// (lists, objects) are kept as sent, never a need's field.
function editable(values) {
  return Object.entries(values).filter(
    ([question, value]) => !question.startsWith("_") && (value === null || typeof value !== "object"),
  );
}

function mappingText(fields) {
  return Object.entries(fields)
    .map(([question, tag]) => `${question} = ${tag}`)
    .join("\n");
}

// "question = #hashtag" per line; a line without "=" is named in the error.
function parseMapping(text) {
  const fields = {};
  const bad = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.lastIndexOf("=");
    if (at <= 0) {
      bad.push(index + 1);
      continue;
    }
    fields[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return { fields, bad };
}

function mappingCard(fields, context) {
  const area = el("textarea", {
    attrs: { id: "kobo-mapping", rows: 6, spellcheck: "false", "data-field": "mapping", "aria-describedby": "kobo-mapping-hint" },
  });
  area.value = mappingText(fields);
  const saved = el("p", { className: "done", attrs: { role: "status" } });
  const form = el("form", {}, [
    el("label", { text: t("partner.kobo.mapping.label"), attrs: { for: "kobo-mapping" } }),
    el("p", { className: "hint", attrs: { id: "kobo-mapping-hint" }, text: t("partner.kobo.mapping.hint") }),
    area,
    el("button", { className: "secondary", text: t("partner.kobo.mapping.save"), attrs: { type: "submit" } }),
    saved,
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    saved.textContent = "";
    const { fields: parsed, bad } = parseMapping(area.value);
    if (bad.length) {
      showFieldErrors(form, { mapping: t("partner.kobo.mapping.bad_lines", { lines: bad.join(", ") }) });
      return;
    }
    try {
      await api(MAPPING, { method: "PUT", body: { fields: parsed } });
      showFieldErrors(form, {});
      saved.textContent = t("partner.kobo.mapping.saved");
    } catch (error) {
      if (error instanceof ApiError) {
        const reasons = Object.values(error.fields);
        showFieldErrors(form, { mapping: reasons.length ? reasons.join("; ") : error.message });
      } else {
        context.showProblem(error);
      }
    }
  });
  return el("details", { className: "card" }, [el("summary", { text: t("partner.kobo.mapping.title") }), form]);
}

function reasonsList(submission) {
  return el(
    "ul",
    {},
    submission.reasons.map((r) =>
      el("li", {
        text: t("partner.kobo.reason", {
          question: r.question || t("partner.kobo.whole_submission"),
          reason: r.reason,
        }),
      }),
    ),
  );
}

function submissionCard(submission, mapping, context, onAccepted) {
  const refused = new Set(submission.reasons.map((r) => r.question));
  const slug = submission.uuid.replaceAll(/[^a-z0-9]/gi, "-");
  const inputs = editable(submission.values).map(([question, value], index) => {
    const id = `kobo-${slug}-${index}`;
    const tag = mapping[question] || (question.startsWith("#") ? "" : t("partner.kobo.unmapped"));
    const input = el("input", {
      attrs: { id, "data-question": question, "data-field": question, "aria-invalid": refused.has(question) ? "true" : undefined },
    });
    input.value = value === null ? "" : String(value);
    return el("div", {}, [
      el("label", { attrs: { for: id } }, [el("code", { text: question }), tag ? ` ${tag}` : ""]),
      input,
    ]);
  });
  const outcome = el("p", { attrs: { role: "status" } });
  const form = el("form", { attrs: { novalidate: true } }, [
    el("fieldset", {}, [el("legend", { text: t("partner.kobo.values") }), ...inputs]),
    el("button", { text: t("partner.kobo.resubmit"), attrs: { type: "submit" } }),
    outcome,
  ]);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const input of form.querySelectorAll("input[data-question]")) {
      const before = submission.values[input.dataset.question];
      if (input.value !== (before === null ? "" : String(before))) {
        values[input.dataset.question] = input.value;
      }
    }
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const accepted = await api(`${SUBMISSIONS}/${encodeURIComponent(submission.uuid)}/resubmit`, {
        method: "POST",
        body: { values },
      });
      await onAccepted(accepted);
    } catch (error) {
      if (error instanceof ApiError) {
        const unclaimed = showFieldErrors(form, error.fields);
        outcome.textContent = unclaimed.length ? unclaimed.join("; ") : error.message;
      } else {
        context.showProblem(error);
      }
    } finally {
      button.disabled = false;
    }
  });
  return el("article", { className: "card", attrs: { "data-submission": submission.uuid } }, [
    el("h2", { text: t("partner.kobo.submission", { uuid: submission.uuid.slice(0, 8) }) }),
    el("p", { className: "meta" }, [
      statusBadge(
        { refused: t("partner.kobo.state.refused"), accepted: t("partner.kobo.state.accepted") },
        submission.state,
      ),
      ` ${t("partner.kobo.received", { date: formatDateTime(submission.received_at), attempts: submission.attempts })}`,
    ]),
    reasonsList(submission),
    form,
  ]);
}

export async function render(container, context, accepted = "") {
  useStyles();
  const [refused, mapping] = await Promise.all([api(`${SUBMISSIONS}?state=refused`), api(MAPPING)]);
  const reload = async (submission) => {
    container.replaceChildren();
    await render(container, context, t("partner.kobo.accepted", { need: submission.need_id }));
  };
  container.append(
    el("p", { className: "hint", text: t("partner.kobo.intro") }),
    accepted ? el("p", { className: "done", attrs: { role: "status" }, text: accepted }) : "",
    mappingCard(mapping.fields, context),
    el("p", { attrs: { id: "kobo-count" }, text: t("partner.kobo.count", { count: refused.length }) }),
    ...refused.map((s) => submissionCard(s, mapping.fields, context, reload)),
  );
}

// Small modal questions in a <dialog>, instead of window.confirm/prompt: they can be
// styled, carry several fields, and do not block the page's socket while open.
let counter = 0;

function element(tag, props = {}, text) {
  const node = Object.assign(document.createElement(tag), props);
  if (text !== undefined) node.textContent = text;
  return node;
}

function radioGroup(field) {
  const group = element("fieldset", { className: "dialog-choices" });
  group.append(element("legend", {}, field.legend));
  for (const option of field.options) {
    const id = `dialog-field-${(counter += 1)}`;
    const input = element("input", { type: "radio", name: field.name, value: option.value, id });
    input.checked = Boolean(option.checked);
    const label = element("label", { htmlFor: id }, option.label);
    group.append(element("div", { className: "dialog-choice" }));
    group.lastChild.append(input, label);
  }
  return group;
}

function textField(field) {
  const id = `dialog-field-${(counter += 1)}`;
  const wrapper = element("div", { className: "field" });
  const input = element("input", { type: "text", name: field.name, id, maxLength: field.maxLength || 500 });
  input.required = Boolean(field.required);
  if (field.placeholder) input.placeholder = field.placeholder;
  wrapper.append(element("label", { htmlFor: id }, field.label), input);
  return wrapper;
}

/** Show a modal question. Resolves to the fields' values ({name: value}) when
 * confirmed, or null when cancelled (Cancel, Escape). */
export function ask({ title, text = "", fields = [], confirm, danger = false }) {
  const dialog = element("dialog", { className: "ask" });
  const form = element("form", { method: "dialog" });
  const heading = element("h2", { id: `dialog-title-${(counter += 1)}` }, title);
  dialog.setAttribute("aria-labelledby", heading.id);
  form.append(heading);
  if (text) form.append(element("p", {}, text));
  for (const field of fields) form.append(field.type === "radio" ? radioGroup(field) : textField(field));
  const buttons = element("div", { className: "actions" });
  const cancel = element("button", { type: "button", className: "secondary" }, "Cancel");
  const ok = element("button", { type: "submit", value: "confirm" }, confirm);
  if (danger) ok.classList.add("danger");
  buttons.append(ok, cancel);
  form.append(buttons);
  dialog.append(form);
  document.body.append(dialog);

  return new Promise((resolve) => {
    let answer = null;
    form.addEventListener("submit", () => {
      answer = Object.fromEntries(new FormData(form).entries());
    });
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    dialog.showModal();
    (form.querySelector("input") || ok).focus();
  });
}

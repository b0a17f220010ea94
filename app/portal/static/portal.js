// The portal's only script: copy buttons. Everything else works without JavaScript.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  const status = button.closest(".copy")?.querySelector(".copy-status");
  const say = (text) => { if (status) status.textContent = text; };
  input.select();
  navigator.clipboard.writeText(input.value).then(
    () => say("Copied."),
    () => say("Press Ctrl+C (⌘C) to copy the selected text.")
  );
});

// Catalog upload with a progress bar. Without JavaScript the form posts as usual.
"use strict";
(() => {
  const form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest) return;
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  form.addEventListener("submit", (event) => {
    if (!form.reportValidity()) return;
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Uploading…";
    request.upload.addEventListener("progress", (progress) => {
      if (!progress.lengthComputable) return;
      bar.value = Math.round((progress.loaded / progress.total) * 100);
      status.textContent = `Uploading… ${bar.value} %`;
    });
    request.addEventListener("load", () => {
      // The portal answers with the run's page (after its redirect) or the form with the error.
      if (request.status < 400) {
        window.location.assign(request.responseURL);
        return;
      }
      // Show the portal's own explanation (the field error, or the error page's message).
      const answer = new DOMParser().parseFromString(request.responseText, "text/html");
      const why = answer.querySelector("#file-error, .alert, main .lead");
      bar.hidden = true;
      status.textContent = why ? why.textContent.trim() : `The upload failed (HTTP ${request.status}).`;
    });
    request.addEventListener("error", () => {
      bar.hidden = true;
      status.textContent = "The upload did not reach the server. Check your connection and try again.";
    });
    request.send(new FormData(form));
  });
})();

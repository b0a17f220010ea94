// The widget preview's sandbox page: start the widget with the options the portal validated.
"use strict";
(() => {
  const holder = document.getElementById("rag-preview");
  if (!holder || !window.RAGAssistant) return;
  window.ragAssistant = new window.RAGAssistant(JSON.parse(holder.dataset.options));
})();

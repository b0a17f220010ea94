/**
 * The versioned bundle (`rag-assistant.<version>.js`). Loaded by the loader, it hands the
 * widget class over; loaded directly with a <script> tag, it defines `RAGAssistant` itself.
 */

import { Widget } from "./widget";

interface BundleWindow {
  RAGAssistant?: unknown;
  __RAGAssistantBundle?: typeof Widget;
}

const target = window as unknown as BundleWindow;
target.__RAGAssistantBundle = Widget;
if (!target.RAGAssistant) target.RAGAssistant = Widget;

/**
 * The loader merchants paste (short cache, no SRI: it moves with each release). It reads
 * `manifest.json` next to itself, injects the immutable versioned bundle with its sha384
 * `integrity` and `crossorigin`, and defines `RAGAssistant` at once, so the page can call
 * `new RAGAssistant({...})` right away: calls made before the bundle arrives are queued. If the
 * bundle cannot be loaded (network, or a hash that does not match: the browser refuses to run
 * it), the loader reports `widget_load_failed` and calls `onError`.
 */

import { sendBeacons } from "./telemetry";
import { configUrl } from "./types";
import type { ChatMessage, LoadContext, RAGAssistantApi, RAGAssistantError, RAGAssistantOptions } from "./types";

interface Manifest {
  version: string;
  bundle: string;
  integrity: string;
}

type Impl = new (options: RAGAssistantOptions, context: LoadContext) => RAGAssistantApi;

interface LoaderWindow {
  RAGAssistant?: { loader?: boolean };
  __RAGAssistantBundle?: Impl;
}

const LOAD_TIMEOUT_MS = 15_000;

interface Failure extends RAGAssistantError {
  version?: string;
}

(() => {
  const w = window as unknown as LoaderWindow;
  if (w.RAGAssistant && w.RAGAssistant.loader) return; // pasted twice
  const startedAt = performance.now();
  try {
    performance.mark("rag-assistant:loader-start");
  } catch {
    // User Timing is optional.
  }
  const script = document.currentScript as HTMLScriptElement | null;
  const base = new URL(".", script ? script.src : location.href).href;
  let impl: Impl | null = null;
  let failure: Failure | null = null;
  const waiting: RAGAssistant[] = [];

  type Call = [keyof RAGAssistantApi, unknown[], (value: unknown) => void, (error: unknown) => void];

  class RAGAssistant implements RAGAssistantApi {
    static readonly loader = true;
    private real: RAGAssistantApi | null = null;
    private queue: Call[] = [];
    private destroyed = false;

    private config: Promise<Response> | undefined;

    constructor(private readonly options: RAGAssistantOptions) {
      if (!impl && !failure && options && options.publishableKey && /^https?:\/\//.test(String(options.apiBaseUrl))) {
        // Fetch the settings while the bundle downloads; the widget picks the answer up.
        this.config = fetch(configUrl(String(options.apiBaseUrl), options.publishableKey), { credentials: "omit" });
        this.config.catch(() => undefined); // the widget reports failures, not the loader
      }
      if (impl) this.attach(impl);
      else if (failure) this.fail(failure);
      else waiting.push(this);
    }

    attach(Impl: Impl): void {
      if (this.destroyed) return;
      this.real = new Impl(this.options, this.config ? { startedAt, config: this.config } : { startedAt });
      for (const [method, args, resolve, reject] of this.queue.splice(0)) {
        try {
          resolve((this.real[method] as (...a: unknown[]) => unknown)(...args));
        } catch (error) {
          reject(error);
        }
      }
    }

    fail(why: Failure): void {
      const { publishableKey, apiBaseUrl, onError } = this.options;
      if (publishableKey && apiBaseUrl) {
        const beacon = { type: "widget_load_failed" as const, code: why.code, ...(why.version ? { widgetVersion: why.version } : {}) };
        sendBeacons(apiBaseUrl, publishableKey, [beacon]);
      }
      console.warn(`RAG Assistant could not load (${why.code}): ${why.message}`);
      for (const [, , , reject] of this.queue.splice(0)) reject(why);
      onError?.({ code: "widget_load_failed", message: why.message, status: 0 });
    }

    private call(method: keyof RAGAssistantApi, args: unknown[]): Promise<unknown> {
      if (this.real) return Promise.resolve((this.real[method] as (...a: unknown[]) => unknown)(...args));
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => this.queue.push([method, args, resolve, reject]));
    }

    open(): void {
      this.call("open", []).catch(() => undefined);
    }

    close(): void {
      this.call("close", []).catch(() => undefined);
    }

    sendMessage(text: string): Promise<ChatMessage> {
      return this.call("sendMessage", [text]) as Promise<ChatMessage>;
    }

    destroy(): void {
      this.destroyed = true;
      if (this.real) this.real.destroy();
      const index = waiting.indexOf(this);
      if (index >= 0) waiting.splice(index, 1);
    }
  }

  w.RAGAssistant = RAGAssistant;

  let version: string | undefined;
  fetch(base + "manifest.json", { credentials: "omit" })
    .then((response) => {
      if (!response.ok) throw { code: "manifest_unavailable", message: `manifest.json answered ${response.status}` };
      return response.json() as Promise<Manifest>;
    })
    .then(
      (manifest) =>
        new Promise<Impl>((resolve, reject) => {
          version = manifest.version;
          const url = new URL(manifest.bundle, base).href;
          const tag = document.createElement("script");
          tag.src = url;
          tag.integrity = manifest.integrity;
          tag.crossOrigin = "anonymous";
          tag.async = true;
          const timer = setTimeout(() => reject({ code: "timeout", message: `${url} did not load in time` }), LOAD_TIMEOUT_MS);
          tag.onload = () => {
            clearTimeout(timer);
            const loaded = w.__RAGAssistantBundle;
            loaded ? resolve(loaded) : reject({ code: "bundle_invalid", message: `${url} did not define the widget` });
          };
          tag.onerror = () => {
            clearTimeout(timer);
            // The browser does not say why; a plain fetch tells a bad hash from a network error.
            fetch(url, { credentials: "omit" })
              .then((response) => response.ok)
              .catch(() => false)
              .then((reachable) =>
                reject(
                  reachable
                    ? { code: "integrity_mismatch", message: `${url} does not match its sha384 in manifest.json` }
                    : { code: "bundle_unavailable", message: `${url} could not be loaded` },
                ),
              );
          };
          document.head.appendChild(tag);
        }),
    )
    .then(
      (loaded) => {
        impl = loaded;
        for (const assistant of waiting.splice(0)) assistant.attach(loaded);
      },
      (error: Partial<Failure>) => {
        failure = {
          code: error.code || "manifest_unavailable",
          message: error.message || String(error),
          status: 0,
          ...(version ? { version } : {}),
        };
        for (const assistant of waiting.splice(0)) assistant.fail(failure);
      },
    );
})();

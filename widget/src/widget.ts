/** `new RAGAssistant(options)`: the chat widget (see widget/README.md for every option). */

import { ApiClient, ApiError } from "./api";
import { stringsFor, type Strings } from "./i18n";
import { Telemetry } from "./telemetry";
import type {
  ChatMessage,
  ChatSession,
  LoadContext,
  Position,
  ProductCard,
  RAGAssistantApi,
  RAGAssistantError,
  RAGAssistantOptions,
  WidgetConfig,
} from "./types";
import { View, type Reply } from "./view";

declare const __VERSION__: string;
export const VERSION = __VERSION__;

const SYSTEM_FONT = 'system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif';
const DEFAULT_COLOR = "#1f6feb";
const MESSAGES = "/api/chat/sessions/{sessionId}/messages";
/** Errors after which asking again cannot help until the merchant fixes something. */
const FATAL = new Set(["origin_not_allowed", "unauthenticated", "forbidden", "invalid_options"]);

function validColor(value: string | undefined): string | undefined {
  return value && typeof CSS !== "undefined" && CSS.supports("color", value) ? value : undefined;
}

function storage(): Storage | null {
  try {
    return window.sessionStorage; // throws in sandboxed frames and some privacy modes
  } catch {
    return null;
  }
}

export class Widget implements RAGAssistantApi {
  static readonly version = VERSION;
  private readonly options: RAGAssistantOptions;
  private readonly api: ApiClient;
  private readonly telemetry: Telemetry;
  private readonly view: View;
  private readonly strings: Strings;
  private readonly storageKey: string;
  private readonly controller = new AbortController();
  private readonly config: Promise<WidgetConfig>;
  private fatal: ApiError | null = null;
  private session: Promise<string> | null = null;
  private restored = false;
  private sending = false;
  private destroyed = false;

  constructor(options: RAGAssistantOptions, context?: LoadContext) {
    const startedAt = context ? context.startedAt : performance.now();
    this.options = options;
    const locale = options.locale || navigator.language || "en";
    this.strings = stringsFor(locale);
    this.storageKey = "rag-assistant:" + String(options.publishableKey || "").slice(-12);
    const apiBaseUrl = String(options.apiBaseUrl || "").replace(/\/+$/, "");
    this.telemetry = new Telemetry(apiBaseUrl, options.publishableKey, VERSION);
    this.api = new ApiClient(apiBaseUrl, options.publishableKey, {
      report: (call) => {
        if (call.error) {
          if (call.error.code === "aborted") return;
          const { code, status } = call.error;
          this.telemetry.record({ type: "api_error", route: call.route, code, status }, true);
        } else {
          this.telemetry.record({ type: "api_latency", route: call.route, durationMs: round(call.durationMs) });
        }
      },
      waiting: (seconds) => this.view.showNotice(this.strings.retrying(seconds), seconds),
    });
    let container: HTMLElement | null = null;
    if (options.container) {
      container =
        typeof options.container === "string" ? document.querySelector<HTMLElement>(options.container) : options.container;
    }
    const position: Position = options.position === "bottom-left" ? "bottom-left" : "bottom-right";
    this.view = new View(
      {
        container,
        position,
        primaryColor: validColor(options.theme?.primaryColor) || DEFAULT_COLOR,
        fontFamily: options.theme?.fontFamily || SYSTEM_FONT,
        locale,
        strings: this.strings,
      },
      { submit: (text) => this.submit(text), opened: () => this.opened() },
    );
    const problem = !/^pk_(live|test)_\w+$/.test(String(options.publishableKey))
      ? "publishableKey must be a pk_live_... key"
      : !/^https?:\/\//.test(apiBaseUrl)
        ? "apiBaseUrl must be an absolute http(s) URL"
        : container === null && options.container
          ? "container was not found on the page"
          : "";
    this.config = problem
      ? Promise.reject(new ApiError("invalid_options", problem, 0))
      : this.api.simpleGet<WidgetConfig>("/api/widget/config", "GET /api/widget/config", context?.config);
    this.config.then(
      (config) => this.ready(config, startedAt),
      (error: ApiError) => this.failedToStart(error),
    );
    if (options.open || container) this.view.open();
  }

  private ready(config: WidgetConfig, startedAt: number): void {
    if (this.destroyed) return;
    const color = validColor(this.options.theme?.primaryColor) || validColor(config.theme.primaryColor);
    if (color) this.view.setTheme(color, this.options.theme?.fontFamily || SYSTEM_FONT);
    this.view.setTitle(config.merchantName);
    const loadMs = performance.now() - startedAt;
    try {
      performance.mark("rag-assistant:ready");
    } catch {
      // User Timing is optional.
    }
    this.telemetry.record({ type: "widget_loaded", durationMs: round(loadMs) }, true);
    if (this.view.isOpen) this.opened();
    this.options.onReady?.(this);
  }

  private failedToStart(error: ApiError): void {
    if (this.destroyed) return;
    this.fatal = error;
    this.view.showNotice(this.explain(error));
    // A refused origin cannot report either (the API refuses it too); others can.
    if (error.code !== "origin_not_allowed" && error.code !== "invalid_options") {
      this.telemetry.record({ type: "widget_load_failed", code: error.code, status: error.status }, true);
    }
    this.emitError(error);
  }

  open(): void {
    this.view.open();
  }

  close(): void {
    this.view.close();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.controller.abort();
    this.telemetry.stop();
    this.view.remove();
  }

  /** Ask a question; resolves with the assistant's reply (also shown in the widget). */
  async sendMessage(text: string): Promise<ChatMessage> {
    const content = String(text || "").trim().slice(0, 1000);
    if (!content) throw new ApiError("validation_failed", "The message is empty", 0);
    if (this.sending) throw new ApiError("busy", "A message is already being answered", 0);
    this.sending = true;
    this.view.clearNotice();
    this.view.addText("user", content);
    this.view.setBusy(true);
    const reply = this.view.startReply();
    try {
      await this.config;
      const message = await this.ask(content, reply, true);
      this.options.onMessage?.(message);
      return message;
    } catch (thrown) {
      const error = thrown instanceof ApiError ? thrown : new ApiError("internal_error", String(thrown), 0);
      reply.discard();
      if (error.code !== "aborted") {
        this.view.showNotice(this.explain(error));
        if (error.code === "rate_limited" && error.retryAfter) this.view.lock(error.retryAfter);
        this.emitError(error);
      }
      throw error;
    } finally {
      this.sending = false;
      if (!this.destroyed) this.view.setBusy(false);
    }
  }

  private submit(text: string): void {
    // Errors are already shown and reported through onError; nothing more to do here.
    this.sendMessage(text).catch(() => undefined);
  }

  private async ask(content: string, reply: Reply, retry: boolean): Promise<ChatMessage> {
    const sessionId = await this.ensureSession();
    const path = MESSAGES.replace("{sessionId}", encodeURIComponent(sessionId));
    let done: ChatMessage | null = null;
    let products: ProductCard[] = [];
    try {
      await this.api.stream(
        path,
        "POST " + MESSAGES,
        { content },
        (event, data) => {
          const payload = data as Record<string, unknown>;
          if (event === "delta") reply.append(String(payload.text || ""));
          else if (event === "reset") reply.reset();
          else if (event === "products") products = (payload.products as ProductCard[]) || [];
          else if (event === "done") done = payload.reply as ChatMessage;
          else if (event === "json") done = (payload as { reply: ChatMessage }).reply;
          else if (event === "error") {
            throw new ApiError(String(payload.code), String(payload.message), 500, String(payload.requestId || ""));
          }
        },
        this.controller.signal,
      );
    } catch (error) {
      // The session expired or filled up: start a new one and ask again, once.
      if (retry && error instanceof ApiError && (error.code === "not_found" || error.code === "conflict")) {
        this.forgetSession();
        reply.reset();
        return this.ask(content, reply, false);
      }
      throw error;
    }
    const message = done as ChatMessage | null;
    if (!message) throw new ApiError("network_error", "The reply was interrupted", 0);
    reply.finish(message.content, message.products.length ? message.products : products);
    return message;
  }

  private ensureSession(): Promise<string> {
    if (!this.session) {
      const stored = storage()?.getItem(this.storageKey);
      this.session = stored
        ? Promise.resolve(stored)
        : this.api
            .request<ChatSession>(
              "POST",
              "/api/chat/sessions",
              "POST /api/chat/sessions",
              {
                locale: this.options.locale || navigator.language || undefined,
                pageUrl: location.protocol.startsWith("http") ? location.origin + location.pathname : undefined,
              },
              this.controller.signal,
            )
            .then((session) => {
              storage()?.setItem(this.storageKey, session.id);
              return session.id;
            });
      this.session.catch(() => this.forgetSession());
    }
    return this.session;
  }

  private forgetSession(): void {
    this.session = null;
    storage()?.removeItem(this.storageKey);
  }

  /** First open after ready: restore this tab's conversation, or greet and start a session. */
  private async opened(): Promise<void> {
    if (this.fatal) {
      this.view.showNotice(this.explain(this.fatal));
      return;
    }
    if (this.restored) return;
    let config: WidgetConfig;
    try {
      config = await this.config;
    } catch {
      return; // failedToStart shows why
    }
    if (this.restored || this.destroyed) return;
    this.restored = true;
    const stored = storage()?.getItem(this.storageKey);
    if (stored) {
      try {
        const page = await this.api.request<{ items: ChatMessage[] }>(
          "GET",
          `/api/chat/sessions/${encodeURIComponent(stored)}/messages?limit=100`,
          "GET " + MESSAGES,
          undefined,
          this.controller.signal,
        );
        this.greet(config, page.items.length === 0);
        page.items.forEach((message) => this.view.addMessage(message));
        return;
      } catch {
        this.forgetSession(); // expired or from another shop: start afresh
      }
    }
    this.greet(config, true);
    this.ensureSession().catch((error: ApiError) => {
      this.view.showNotice(this.explain(error));
      this.emitError(error);
    });
  }

  private greet(config: WidgetConfig, suggest: boolean): void {
    this.view.addText("assistant", this.options.greeting || config.greeting);
    if (suggest) this.view.addSuggestions(config.suggestions.slice(0, 3));
  }

  private explain(error: RAGAssistantError): string {
    const s = this.strings;
    switch (error.code) {
      case "origin_not_allowed":
        return s.originNotAllowed(location.hostname || location.origin);
      case "unauthenticated":
      case "forbidden":
        return s.badKey;
      case "invalid_options":
        return "RAG Assistant: " + error.message;
      case "rate_limited":
        return s.rateLimited(error.retryAfter || 1);
      case "network_error":
        return s.network;
      default:
        return s.generic;
    }
  }

  private emitError(error: ApiError): void {
    const report: RAGAssistantError = { code: error.code, message: error.message, status: error.status };
    if (error.requestId) report.requestId = error.requestId;
    if (error.retryAfter !== undefined) report.retryAfter = error.retryAfter;
    if (FATAL.has(error.code)) {
      // For the shop's developer, not the shopper: a warning, never an uncaught error.
      console.warn(`RAG Assistant: ${error.code}: ${error.message}`);
    }
    this.options.onError?.(report);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

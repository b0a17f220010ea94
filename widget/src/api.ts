/**
 * The API client: unwraps the `{success, data | error}` envelope, surfaces `error.code`,
 * waits out a short `Retry-After` on 429 once, and reports latency and errors to telemetry.
 * Keys travel in the Authorization header; no cookies are ever sent (`credentials: "omit"`).
 */

import type { RAGAssistantError } from "./types";

/** A 429 asking to wait longer than this is shown to the shopper instead of waited out. */
const MAX_AUTO_WAIT_SECONDS = 10;
const REQUEST_TIMEOUT_MS = 30_000;
const STREAM_IDLE_MS = 60_000;

export class ApiError extends Error implements RAGAssistantError {
  code: string;
  status: number;
  requestId?: string;
  retryAfter?: number;

  constructor(code: string, message: string, status: number, requestId?: string, retryAfter?: number) {
    super(message);
    this.code = code;
    this.status = status;
    if (requestId) this.requestId = requestId;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

export interface CallReport {
  route: string;
  durationMs: number;
  error?: ApiError;
}

export interface ClientHooks {
  /** Each finished call, for telemetry. */
  report(call: CallReport): void;
  /** A 429 that will be retried after `seconds`. */
  waiting(seconds: number): void;
}

type StreamHandler = (event: string, data: unknown) => void;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function retryAfterSeconds(response: Response): number | undefined {
  const value = response.headers.get("Retry-After");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function errorOf(response: Response): Promise<ApiError> {
  let code = "http_" + response.status;
  let message = response.statusText || "Request failed";
  let requestId = response.headers.get("X-Request-Id") || undefined;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = String(body.error.code || code);
      message = String(body.error.message || message);
      requestId = body.requestId || requestId;
    }
  } catch {
    // Not our envelope (a proxy's error page): keep the HTTP status as the code.
  }
  return new ApiError(code, message, response.status, requestId, retryAfterSeconds(response));
}

export class ApiClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly key: string,
    private readonly hooks: ClientHooks,
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
  }

  /** JSON request; resolves with the envelope's `data`. */
  request<T>(method: string, path: string, route: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    return this.call(route, async () => {
      const watchdog = new Watchdog(REQUEST_TIMEOUT_MS, signal);
      try {
        const response = await this.fetch(method, path, body, "application/json", watchdog.signal, signal);
        const envelope = await response.json();
        if (!envelope || envelope.success !== true) throw new ApiError("bad_response", "Unexpected response", response.status);
        return envelope.data as T;
      } finally {
        watchdog.stop();
      }
    });
  }

  /**
   * A GET as a CORS "simple request" (key in the query, no custom headers), so the browser
   * sends no preflight: one round trip instead of two on the widget's critical path. The
   * loader may already have started it (`prefetched`), in parallel with the bundle download.
   */
  simpleGet<T>(path: string, route: string, prefetched?: Promise<Response>): Promise<T> {
    let pending = prefetched;
    return this.call(route, async () => {
      const started = pending;
      pending = undefined; // a retry (after a 429) fetches again
      const url = this.base + path + (path.includes("?") ? "&" : "?") + "key=" + encodeURIComponent(this.key);
      let response: Response;
      try {
        response = await (started || fetch(url, { credentials: "omit", mode: "cors" }));
      } catch {
        throw new ApiError("network_error", "The assistant could not be reached", 0);
      }
      if (!response.ok) throw await errorOf(response);
      const envelope = await response.json();
      if (!envelope || envelope.success !== true) throw new ApiError("bad_response", "Unexpected response", response.status);
      return envelope.data as T;
    });
  }

  /** POST with `Accept: text/event-stream`; calls `handler` for each server-sent event. */
  stream(path: string, route: string, body: unknown, handler: StreamHandler, signal?: AbortSignal): Promise<void> {
    return this.call(route, async () => {
      // Idle timeout: each piece of the reply restarts it, so a long answer is fine.
      const watchdog = new Watchdog(STREAM_IDLE_MS, signal);
      try {
        const response = await this.fetch("POST", path, body, "text/event-stream", watchdog.signal, signal);
        const type = response.headers.get("Content-Type") || "";
        if (!type.startsWith("text/event-stream") || !response.body) {
          // A server (or proxy) that does not stream: take the whole reply at once.
          const envelope = await response.json();
          handler("json", envelope.data);
          return;
        }
        await readEvents(response.body, (event, data) => {
          watchdog.restart();
          handler(event, data);
        });
      } catch (thrown) {
        if (thrown instanceof ApiError) throw thrown;
        // The body broke off mid-stream (network gone, idle timeout).
        throw new ApiError(signal?.aborted ? "aborted" : "network_error", "The reply was interrupted", 0);
      } finally {
        watchdog.stop();
      }
    });
  }

  private async call<T>(route: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      try {
        const result = await run();
        this.hooks.report({ route, durationMs: performance.now() - started });
        return result;
      } catch (thrown) {
        const error = asApiError(thrown);
        this.hooks.report({ route, durationMs: performance.now() - started, error });
        const wait = error.retryAfter;
        if (error.code === "rate_limited" && attempt === 0 && wait !== undefined && wait <= MAX_AUTO_WAIT_SECONDS) {
          this.hooks.waiting(wait);
          await sleep(wait * 1000);
          continue;
        }
        throw error;
      }
    }
  }

  private async fetch(
    method: string,
    path: string,
    body: unknown,
    accept: string,
    signal: AbortSignal,
    callerSignal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept, Authorization: "Bearer " + this.key };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        credentials: "omit",
        mode: "cors",
        signal,
      });
    } catch {
      throw new ApiError(callerSignal?.aborted ? "aborted" : "network_error", "The assistant could not be reached", 0);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }
}

/** Aborts its signal after `ms` without `restart()`, or when the caller's signal aborts. */
class Watchdog {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.controller.abort();

  constructor(
    private readonly ms: number,
    private readonly caller?: AbortSignal,
  ) {
    caller?.addEventListener("abort", this.onAbort);
    this.restart();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  restart(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onAbort, this.ms);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener("abort", this.onAbort);
  }
}

function asApiError(thrown: unknown): ApiError {
  if (thrown instanceof ApiError) return thrown;
  return new ApiError("network_error", thrown instanceof Error ? thrown.message : String(thrown), 0);
}

async function readEvents(stream: ReadableStream<Uint8Array>, handler: StreamHandler): Promise<void> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data: string[] = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trim());
      }
      if (data.length) handler(name, JSON.parse(data.join("\n")));
    }
  }
}

/**
 * Telemetry beacons to `POST /api/widget/events`: load time, load failures, API latency and
 * errors. Sent with `fetch(..., {keepalive: true})`, which like `navigator.sendBeacon` outlives
 * the page, but can carry the key in a header and JSON without cookies (a beacon always sends
 * credentials, which this API never accepts cross-origin). Latency samples are batched; load
 * events and errors go out at once. Telemetry never throws and never reports on itself.
 */

export interface Beacon {
  type: "widget_loaded" | "widget_load_failed" | "api_error" | "api_latency";
  durationMs?: number;
  code?: string;
  route?: string;
  status?: number;
  widgetVersion?: string;
  sessionId?: string;
}

const MAX_BATCH = 20;
const FLUSH_AFTER_MS = 5000;

export function sendBeacons(apiBaseUrl: string, key: string, events: Beacon[]): void {
  try {
    fetch(apiBaseUrl.replace(/\/+$/, "") + "/api/widget/events", {
      method: "POST",
      keepalive: true,
      credentials: "omit",
      mode: "cors",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + key },
      body: JSON.stringify({ events }),
    }).catch(() => undefined);
  } catch {
    // keepalive quota exceeded or fetch missing: telemetry is best effort.
  }
}

export class Telemetry {
  private queue: Beacon[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onHide = () => {
    if (document.visibilityState === "hidden") this.flush();
  };
  private readonly onPageHide = () => this.flush();
  enabled = true;

  constructor(
    private readonly apiBaseUrl: string,
    private readonly key: string,
    private readonly version: string,
  ) {
    document.addEventListener("visibilitychange", this.onHide);
    window.addEventListener("pagehide", this.onPageHide);
  }

  record(beacon: Beacon, urgent = false): void {
    if (!this.enabled) return;
    this.queue.push({ ...beacon, widgetVersion: this.version });
    if (urgent || this.queue.length >= MAX_BATCH) this.flush();
    else if (this.timer === undefined) this.timer = setTimeout(() => this.flush(), FLUSH_AFTER_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.queue.length) return;
    const events = this.queue.splice(0, 50);
    sendBeacons(this.apiBaseUrl, this.key, events);
  }

  stop(): void {
    this.flush();
    document.removeEventListener("visibilitychange", this.onHide);
    window.removeEventListener("pagehide", this.onPageHide);
  }
}

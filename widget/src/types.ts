/** The public shapes of the widget: options, messages, errors (see widget/README.md). */

export type Position = "bottom-right" | "bottom-left";

export interface Theme {
  /** Buttons, the launcher and the shopper's bubbles; any CSS color. */
  primaryColor?: string;
  /** Any CSS font-family list; default: the system UI font. */
  fontFamily?: string;
}

export interface ProductCard {
  id: string;
  title: string;
  /** Exact decimal as a string, e.g. "49.90". */
  price: string;
  currency: string;
  url: string | null;
  imageUrl: string | null;
  availability: string;
  brand?: string | null;
}

export interface ChatMessage {
  id: string;
  sessionId: string;
  role: "user" | "assistant";
  content: string;
  products: ProductCard[];
  provider: string | null;
  createdAt: string;
}

export interface WidgetConfig {
  merchantId: string;
  merchantName: string;
  greeting: string;
  theme: { primaryColor: string; position: string };
  suggestions: string[];
}

export interface ChatSession {
  id: string;
  locale: string | null;
  messageCount: number;
  createdAt: string;
  lastMessageAt: string | null;
}

/** What `onError` receives and rejected promises carry. */
export interface RAGAssistantError {
  /** An API error code (`origin_not_allowed`, `rate_limited`, ...), `network_error`,
   * `widget_load_failed` or `invalid_options`. */
  code: string;
  message: string;
  /** HTTP status; 0 when there was no response. */
  status: number;
  requestId?: string;
  /** Seconds to wait, for `rate_limited`. */
  retryAfter?: number;
}

export interface RAGAssistantOptions {
  /** `pk_live_...` from the developer portal. */
  publishableKey: string;
  /** The API, e.g. `https://api.ragassist.example.com`. */
  apiBaseUrl: string;
  /** Render inside this element (or CSS selector) instead of as a floating launcher. */
  container?: HTMLElement | string;
  position?: Position;
  theme?: Theme;
  /** The first message shown; default: the one set for the shop. */
  greeting?: string;
  /** BCP 47 tag for texts and prices; default: the browser's language. */
  locale?: string;
  /** Start with the chat open. */
  open?: boolean;
  onReady?: (assistant: RAGAssistantApi) => void;
  onMessage?: (message: ChatMessage) => void;
  onError?: (error: RAGAssistantError) => void;
}

export interface RAGAssistantApi {
  open(): void;
  close(): void;
  sendMessage(text: string): Promise<ChatMessage>;
  destroy(): void;
}

/** What the loader hands the bundle when it creates the real widget. */
export interface LoadContext {
  /** `performance.now()` when the loader started. */
  startedAt: number;
  /** `GET /api/widget/config`, started by the loader while the bundle downloaded. */
  config?: Promise<Response>;
}

/** Where the widget reads its settings: a simple GET (no preflight), key in the query. */
export function configUrl(apiBaseUrl: string, key: string): string {
  return apiBaseUrl.replace(/\/+$/, "") + "/api/widget/config?key=" + encodeURIComponent(key);
}

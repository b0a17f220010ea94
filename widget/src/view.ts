/**
 * The widget's DOM, inside a shadow root. All text goes in through `textContent` and URLs
 * through `safeUrl`, so nothing from the catalog or the API can inject markup or scripts.
 */

import type { Strings } from "./i18n";
import { CSS } from "./styles";
import type { ChatMessage, Position, ProductCard } from "./types";

const SVG = "http://www.w3.org/2000/svg";

/** The chat bubble icon, built node by node: no innerHTML, so pages enforcing Trusted Types
 * (`require-trusted-types-for 'script'`) accept the widget too. */
function icon(): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z");
  svg.append(path);
  return svg;
}

export interface ViewHandlers {
  submit(text: string): void;
  opened(): void;
}

export interface ViewOptions {
  container: HTMLElement | null;
  position: Position;
  primaryColor: string;
  fontFamily: string;
  locale: string;
  strings: Strings;
}

type Tag = keyof HTMLElementTagNameMap;

function el<K extends Tag>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** http(s) URLs only, resolved against the page; anything else (javascript:, data:) is null. */
export function safeUrl(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const url = new URL(value, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

let counter = 0;

export class View {
  readonly host: HTMLElement;
  private readonly root: HTMLDivElement;
  private readonly launcher: HTMLButtonElement;
  private readonly panel: HTMLElement;
  private readonly heading: HTMLHeadingElement;
  private readonly log: HTMLDivElement;
  private readonly typing: HTMLDivElement;
  private readonly notice: HTMLParagraphElement;
  private readonly input: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly inline: boolean;
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;
  private lockedUntil = 0;
  isOpen = false;

  constructor(
    private readonly options: ViewOptions,
    private readonly handlers: ViewHandlers,
  ) {
    const s = options.strings;
    const id = "ra" + ++counter;
    this.inline = options.container !== null;
    this.host = document.createElement("rag-assistant");
    // Inline !important beats any page rule aimed at the host element itself.
    const hostStyle = this.host.style;
    hostStyle.setProperty("all", "initial", "important");
    hostStyle.setProperty("display", "block", "important");
    if (!this.inline) {
      hostStyle.setProperty("position", "fixed", "important");
      hostStyle.setProperty("z-index", "2147483000", "important");
      hostStyle.setProperty("width", "0", "important");
      hostStyle.setProperty("height", "0", "important");
    } else {
      hostStyle.setProperty("height", "100%", "important");
    }
    const shadow = this.host.attachShadow({ mode: "open" });
    this.root = el("div", "root " + (this.inline ? "inline" : options.position === "bottom-left" ? "left" : "right"));
    this.root.lang = options.locale;
    this.setTheme(options.primaryColor, options.fontFamily);
    adoptStyles(shadow);

    this.launcher = el("button", "launcher");
    this.launcher.type = "button";
    this.launcher.append(icon());
    this.launcher.setAttribute("aria-label", s.open);
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.setAttribute("aria-controls", id + "-panel");
    this.launcher.addEventListener("click", () => (this.isOpen ? this.close() : this.open()));

    this.panel = el("section", "panel");
    this.panel.id = id + "-panel";
    this.panel.setAttribute("role", this.inline ? "region" : "dialog");
    this.panel.setAttribute("aria-labelledby", id + "-title");
    this.panel.hidden = !this.inline;
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.inline) {
        event.stopPropagation();
        this.close();
      }
    });

    const header = el("header");
    this.heading = el("h2", undefined, s.title);
    this.heading.id = id + "-title";
    const close = el("button", "close", "×");
    close.type = "button";
    close.setAttribute("aria-label", s.close);
    close.addEventListener("click", () => this.close());
    header.append(this.heading, close);

    this.log = el("div", "log");
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-live", "polite");
    this.log.setAttribute("aria-label", s.conversation);
    this.typing = el("div", "typing");
    this.typing.setAttribute("role", "status");
    this.typing.setAttribute("aria-label", s.typing);
    this.typing.append(el("span"), el("span"), el("span"));
    this.typing.hidden = true;

    this.notice = el("p", "notice");
    this.notice.setAttribute("role", "alert");
    this.notice.hidden = true;

    const form = el("form");
    const label = el("label", "sr", s.label);
    label.htmlFor = id + "-input";
    this.input = el("textarea");
    this.input.id = id + "-input";
    this.input.rows = 1;
    this.input.maxLength = 1000;
    this.input.placeholder = s.placeholder;
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit ? form.requestSubmit() : this.submit();
      }
    });
    this.sendButton = el("button", "send", s.send);
    this.sendButton.type = "submit";
    form.append(label, this.input, this.sendButton);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });

    this.panel.append(header, this.log, this.notice, form);
    this.root.append(this.launcher, this.panel);
    shadow.append(this.root);
    (options.container || document.body).append(this.host);
  }

  setTheme(primaryColor: string, fontFamily: string): void {
    this.root.style.setProperty("--ra-primary", primaryColor);
    this.root.style.setProperty("--ra-font", fontFamily);
  }

  setTitle(title: string): void {
    this.heading.textContent = title;
  }

  open(): void {
    if (this.isOpen && !this.inline) return;
    this.isOpen = true;
    this.panel.hidden = false;
    this.root.classList.add("open");
    this.launcher.setAttribute("aria-expanded", "true");
    this.handlers.opened();
    if (!this.inline) this.input.focus();
  }

  close(): void {
    if (!this.isOpen || this.inline) return;
    this.isOpen = false;
    this.panel.hidden = true;
    this.root.classList.remove("open");
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.focus();
  }

  private submit(): void {
    const text = this.input.value.trim();
    if (!text || this.sendButton.disabled) return;
    this.input.value = "";
    this.handlers.submit(text);
  }

  setBusy(busy: boolean): void {
    this.sendButton.disabled = busy || Date.now() < this.lockedUntil;
    this.typing.hidden = !busy;
    this.log.setAttribute("aria-busy", String(busy));
    if (busy) this.log.append(this.typing);
    this.scroll();
  }

  /** Keep the send button disabled for `seconds` (rate limited). */
  lock(seconds: number): void {
    this.lockedUntil = Date.now() + seconds * 1000;
    this.sendButton.disabled = true;
    setTimeout(() => {
      if (Date.now() >= this.lockedUntil) this.sendButton.disabled = false;
    }, seconds * 1000);
  }

  showNotice(text: string, seconds = 0): void {
    clearTimeout(this.noticeTimer);
    this.notice.textContent = text;
    this.notice.hidden = false;
    if (seconds > 0) this.noticeTimer = setTimeout(() => this.clearNotice(), seconds * 1000);
  }

  clearNotice(): void {
    this.notice.hidden = true;
    this.notice.textContent = "";
  }

  get noticeText(): string {
    return this.notice.hidden ? "" : this.notice.textContent || "";
  }

  clearLog(): void {
    this.log.textContent = "";
  }

  addText(role: "user" | "assistant", text: string): HTMLParagraphElement {
    const bubble = el("p", "msg " + role, text);
    this.log.insertBefore(bubble, this.typing.parentNode === this.log ? this.typing : null);
    this.scroll();
    return bubble;
  }

  addSuggestions(topics: string[]): void {
    if (!topics.length) return;
    const chips = el("div", "chips");
    for (const topic of topics) {
      const chip = el("button", "chip", this.options.strings.suggestion(topic));
      chip.type = "button";
      chip.addEventListener("click", () => {
        chips.remove();
        this.handlers.submit(this.options.strings.suggestion(topic));
      });
      chips.append(chip);
    }
    this.log.append(chips);
  }

  /** A reply bubble that fills in while the reply streams. */
  startReply(): Reply {
    return new Reply(this);
  }

  /** Render a finished message (history, or a reply that did not stream). */
  addMessage(message: ChatMessage): void {
    if (message.role === "user") {
      this.addText("user", message.content);
      return;
    }
    const reply = this.startReply();
    reply.finish(message.content, message.products);
  }

  renderReply(bubble: HTMLParagraphElement, text: string, products: ProductCard[]): void {
    bubble.textContent = "";
    linkify(bubble, text, products);
    if (products.length) {
      const list = el("ul", "cards");
      list.setAttribute("aria-label", "Products");
      for (const product of products) list.append(this.card(product));
      bubble.after(list);
    }
    this.scroll();
  }

  private card(product: ProductCard): HTMLLIElement {
    const item = el("li", "card");
    const link = el("a");
    const url = safeUrl(product.url);
    if (url) link.href = url;
    const image = safeUrl(product.imageUrl);
    if (image) {
      const img = el("img");
      img.src = image;
      img.alt = "";
      img.loading = "lazy";
      img.decoding = "async";
      img.referrerPolicy = "no-referrer";
      link.append(img);
    }
    const body = el("span", "body");
    const availability = this.options.strings.availability[product.availability] || product.availability;
    body.append(
      el("span", "name", product.title),
      el("span", "price", formatPrice(product.price, product.currency, this.options.locale)),
      el("span", "stock " + product.availability, availability),
    );
    link.append(body);
    item.append(link);
    return item;
  }

  scroll(): void {
    this.log.scrollTop = this.log.scrollHeight;
  }

  remove(): void {
    clearTimeout(this.noticeTimer);
    this.host.remove();
  }
}

export class Reply {
  readonly bubble: HTMLParagraphElement;
  private text = "";

  constructor(private readonly view: View) {
    this.bubble = view.addText("assistant", "");
    this.bubble.hidden = true; // until the first piece: the typing dots show meanwhile
  }

  append(piece: string): void {
    this.text += piece;
    this.bubble.hidden = false;
    this.bubble.textContent = this.text;
    this.view.scroll();
  }

  reset(): void {
    this.text = "";
    this.bubble.textContent = "";
    this.bubble.hidden = true;
  }

  finish(text: string, products: ProductCard[]): void {
    this.bubble.hidden = false;
    this.view.renderReply(this.bubble, text, products);
  }

  discard(): void {
    this.bubble.remove();
  }
}

/** The reply text with each product's title turned into a link to its page. */
function linkify(target: HTMLElement, text: string, products: ProductCard[]): void {
  const links = new Map<string, string>();
  for (const product of products) {
    const url = safeUrl(product.url);
    if (url && product.title) links.set(product.title, url);
  }
  if (!links.size) {
    target.textContent = text;
    return;
  }
  const titles = [...links.keys()].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(titles.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const at = match.index ?? 0;
    target.append(text.slice(last, at));
    const link = el("a", undefined, match[0]);
    link.href = links.get(match[0]) || "#";
    target.append(link);
    last = at + match[0].length;
  }
  target.append(text.slice(last));
}

function formatPrice(price: string, currency: string, locale: string): string {
  const amount = Number(price);
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency }).format(amount);
  } catch {
    return `${price} ${currency}`;
  }
}

/** Constructable stylesheets are not subject to a page's `style-src` CSP; older browsers get
 * a <style> element (which such a CSP would need 'unsafe-inline' for). */
function adoptStyles(shadow: ShadowRoot): void {
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } catch {
    const style = document.createElement("style");
    style.textContent = CSS;
    shadow.append(style);
  }
}
